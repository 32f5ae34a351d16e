// <input type=range data-turntable-img="id" data-frame-px="200">: shows frame n of the
// turntable strip (frames side by side in one image, farm/_job_part.html).
document.querySelectorAll("[data-turntable-img]").forEach(function (input) {
  var img = document.getElementById(input.dataset.turntableImg);
  input.addEventListener("input", function () {
    img.style.marginLeft = -input.value * Number(input.dataset.framePx) + "px";
  });
});
