"""The farm's planning weights come from its settings and reach the plan a pass makes."""

from __future__ import annotations

import pytest
from django.test import override_settings

from farm.services.plan_inputs import plan_inputs


@pytest.mark.django_db
def test_the_pass_plans_with_the_farms_weights() -> None:
    defaults = plan_inputs().options
    assert defaults.change_penalty_seconds == 3600.0 and defaults.replan_gain == 0.02
    with override_settings(FARM_CHANGE_PENALTY_MINUTES=240, FARM_REPLAN_GAIN=0.1):
        options = plan_inputs().options
    assert options.change_penalty_seconds == 4 * 3600.0
    assert options.replan_gain == 0.1
