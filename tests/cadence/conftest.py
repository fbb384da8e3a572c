from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.cadence.services import create_default_cadence


@pytest.fixture
def emea_cadence(org):
    """The sample organisation's EMEA team (EMEA and DACH below it) with the default cadence,
    started five weeks ago, in Europe/Berlin."""
    return create_default_cadence(org.teams["emea"], by=org.manager_emea, starts_on=timezone.localdate() - timedelta(days=35),
                                  time_zone="Europe/Berlin")
