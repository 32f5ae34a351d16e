"""What the farm asks a job's owner before it prints: a mesh that looks drawn in the wrong
units (scale it?), a mesh that had to be repaired (print the repair?), supports the farm added
features thinner than the nozzle (print anyway?). The job waits, quoted,
until every question has its answer; an answer that changes the part prepares it again."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class QuestionKind(models.TextChoices):
    SCALE = "scale", "Scale"
    REPAIR = "repair", "Repair"
    THIN = "thin", "Thin features"


class QuestionAnswer(models.TextChoices):
    SCALE = "scale", "Scale it"
    KEEP = "keep", "Keep it as it is"
    ACCEPT = "accept", "Print the repaired part"
    CANCEL = "cancel", "Cancel the job"
    PRINT_ANYWAY = "print_anyway", "Print it anyway"


# The answers each kind of question offers, the suggested one first.
ANSWERS: dict[str, tuple[str, ...]] = {
    QuestionKind.SCALE: (QuestionAnswer.SCALE, QuestionAnswer.KEEP),
    QuestionKind.REPAIR: (QuestionAnswer.ACCEPT, QuestionAnswer.CANCEL),
    QuestionKind.THIN: (QuestionAnswer.PRINT_ANYWAY, QuestionAnswer.CANCEL),
}


class JobQuestion(models.Model):
    job = models.ForeignKey("farm.Job", on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    text = models.CharField(max_length=500, help_text="The question, as put to the owner.")
    factor = models.FloatField(
        null=True, blank=True, help_text="The scale suggested (a scale question)."
    )
    asked_at = models.DateTimeField(auto_now_add=True)
    answer = models.CharField(max_length=20, choices=QuestionAnswer.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["asked_at", "pk"]

    def __str__(self) -> str:
        return f"#{self.job_id} {self.kind}: {self.answer or 'open'}"

    @property
    def is_open(self) -> bool:
        return not self.answer

    @property
    def answers(self) -> list[tuple[str, str]]:
        """(value, label) of each answer offered, the suggested first."""
        labels = dict(QuestionAnswer.choices)
        offered = ANSWERS[self.kind]
        if self.kind == QuestionKind.SCALE and self.factor:
            labels[QuestionAnswer.SCALE] = f"Scale ×{self.factor:g}"
        return [(value, labels[value]) for value in offered]
