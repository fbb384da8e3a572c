"""Page-number pagination for the API lists, with the page number bounded.

ninja's `page` has no upper bound: a page of 10**30 became an SQL OFFSET that SQLite cannot hold
(a 500). A million pages of the largest page size is far past any list dealpilot keeps.
"""

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

MAX_PAGE = 1_000_000


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=MAX_PAGE)  # above the list's own maximum it is that maximum
