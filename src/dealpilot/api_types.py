"""Field types shared by the API's input schemas."""

from decimal import Decimal
from typing import Annotated

from ninja import Field

from dealpilot.crm.models import SAFE_DECIMAL_DIGITS

# A record id in a request body: the databases' ids are 64-bit, and SQLite cannot even compare with a larger
# integer (an OverflowError, a 500), so a larger one is refused up front (422) like any malformed field.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]

# An amount of money in a request body. The columns are numeric(18, 2), but SQLite keeps only 15 significant
# digits (crm.models.SAFE_DECIMAL_DIGITS), and more than 18 failed on PostgreSQL. Ten trillion is ample.
Money = Annotated[Decimal, Field(ge=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2)]
