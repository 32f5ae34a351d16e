"""The part on its job's page: the question with its buttons, the answer given through the
page, and the turntable of the plate as it prints."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from django.test import Client
from PIL import Image

from farm.models import Job
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from slicing.thumbnail import BACKGROUND
from slicing.turntable import FRAMES, SIZE
from tests.farm.test_questions import metres_box, stl_upload


def quoted_in_metres(owner: Any, material: Any) -> Job:
    job = job_submit(
        owner=owner,
        upload=stl_upload(metres_box()),
        material=material,
        quantity=1,
        confirm_required=True,
    )
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def test_the_page_asks_the_scale_question_with_both_answers(
    client: Client, alice: Any, pla: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = quoted_in_metres(alice, pla)
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "This part is 0.02 mm across: it looks like metres. Scale ×1000?" in page
    assert 'value="scale" class="primary">Scale ×1000</button>' in page
    assert 'value="keep">Keep it as it is</button>' in page
    assert "The quote is for the part scaled ×1000: 20 × 20 × 10 mm" in page


def test_an_answer_through_the_page_is_recorded_and_shown(
    client: Client, alice: Any, pla: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = quoted_in_metres(alice, pla)
    question = job.questions.get()
    client.force_login(alice)
    answered = client.post(
        f"/jobs/{job.pk}/answer/", {"question": question.pk, "answer": "scale"}, follow=True
    )
    assert f"Job #{job.pk} answered." in answered.content.decode()
    assert "Scale ×1000?</p>" not in answered.content.decode()
    assert "Scale ×1000?" in answered.content.decode()  # the answered question stays, muted
    assert job.questions.get().answer == "scale"
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUOTED  # to be confirmed


def test_a_wrong_answer_is_said_on_the_page(
    client: Client, alice: Any, pla: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = quoted_in_metres(alice, pla)
    client.force_login(alice)
    page = client.post(f"/jobs/{job.pk}/answer/", {"question": "x"}, follow=True)
    assert "This job has no such question." in page.content.decode()


def test_the_turntable_shows_every_frame_of_the_plate(
    client: Client, alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=4)
    job_prepare(job_id=job.pk)
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'src="/jobs/{job.pk}/turntable.png"' in page
    assert 'id="turntable-pick"' in page
    assert "farm/turntable.js" in page
    assert 'data-layer-url="' in page  # the layers, for the owner too
    response = client.get(f"/jobs/{job.pk}/turntable.png")
    image = Image.open(io.BytesIO(response.getvalue()))
    assert image.size == (FRAMES * SIZE, SIZE)
    # every frame shows the plate: a good part of its pixels are not the background
    pixels = np.asarray(image.convert("RGB")).reshape(SIZE, FRAMES, SIZE, 3)
    part = (pixels != BACKGROUND).any(axis=3).mean(axis=(0, 2))  # (frames,) share
    assert (part > 0.1).all(), part


def test_the_question_appears_on_an_open_page_with_its_next_refresh(
    client: Client, alice: Any, pla: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = quoted_in_metres(alice, pla)
    client.force_login(alice)
    live = client.get(f"/jobs/{job.pk}/?partial=1").content.decode()
    assert "Scale ×1000?" in live and 'value="keep"' in live
    assert "<html" not in live
