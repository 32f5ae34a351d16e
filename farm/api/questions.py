"""The questions about a job's part (farm.services.questions) as the API shows and answers
them: GET /api/v1/jobs/{id}/questions/, POST /api/v1/jobs/{id}/answer/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from farm.models import JobQuestion
from farm.models.question import QuestionAnswer, QuestionKind


class AnswerChoiceSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(read_only=True, help_text="What to send as `answer`.")
    label = serializers.CharField(read_only=True)


class QuestionSerializer(serializers.ModelSerializer[JobQuestion]):
    kind = serializers.ChoiceField(choices=QuestionKind.choices, read_only=True)
    answer = serializers.ChoiceField(
        choices=QuestionAnswer.choices,
        read_only=True,
        allow_blank=True,
        help_text="Empty while the question is open.",
    )
    answered_by = serializers.CharField(
        source="answered_by.username", read_only=True, allow_null=True, default=None
    )
    answers = serializers.SerializerMethodField(help_text="The answers offered, suggested first.")

    class Meta:
        model = JobQuestion
        fields = [
            "id",
            "kind",
            "text",
            "factor",
            "asked_at",
            "answers",
            "answer",
            "answered_at",
            "answered_by",
        ]
        read_only_fields = fields

    @extend_schema_field(AnswerChoiceSerializer(many=True))
    def get_answers(self, question: JobQuestion) -> list[dict[str, str]]:
        return [{"value": value, "label": label} for value, label in question.answers]


class AnswerSerializer(serializers.Serializer[Any]):
    question = serializers.IntegerField(help_text="The question's id.")
    answer = serializers.ChoiceField(choices=QuestionAnswer.choices)
