"""Field types shared by the API's input schemas."""

from typing import Annotated

from ninja import Field

# A record id in a request body: the databases' ids are 64-bit, and SQLite cannot even compare with a larger
# integer (an OverflowError, a 500), so a larger one is refused up front (422) like any malformed field.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]
