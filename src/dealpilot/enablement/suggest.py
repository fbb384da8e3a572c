"""Content suggested inside the deal ("Be Inspired", domain brief section 7).

For an opportunity the published modules that fit it are ranked by tag match plus text
relevance, each with the reasons it was suggested:

- hard fit: a module tagged with journey phases or industries is left out of deals in another
  phase / industry (untagged means "fits all");
- tag match: the deal's stage, its journey phase (stage -> phase through the leader's mapping),
  the buyer roles in its buying group (OpportunityContactRole), the account's industry, the
  products on it, and a module's challenge tag named in the deal's description;
- text relevance: TF-IDF cosine between the deal (description, products, industry) and the
  module (title, summary, body, the uploaded file's text, challenge tags).

The index (tag postings and the TF-IDF matrix) is built once per library version (module count
and last change) and kept in the process, so a suggestion costs a few queries for the deal and
some vector arithmetic over the library.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

from dealpilot.crm.models import ContactRole, Opportunity

from .messages import deal_values, render_template
from .models import ContentKind, ContentModule, ContentStatus, ContentTag, EnablementSettings, JourneyPhase, TagDimension

WEIGHTS = {  # the score of each kind of match; text relevance is a cosine in [0, 1] times its weight
    "stage": 3.0, "phase": 2.0, "buyer_role": 1.5, "industry": 2.0, "product": 1.0, "challenge": 3.0, "text": 4.0,
    "gap": 3.5,  # material for what the deal lacks (a role not reached, no compelling event) weighs like its stage
}
# Deal signals that ask for material for the buying-group roles nobody on the deal holds yet.
THREAD_GAPS = {"single_threaded": "The deal is single-threaded", "no_decision_maker_access": "No decision maker is reached"}
# Material that states the cost of doing nothing, for a deal without a compelling event (its words, searched in the
# modules' text as the deal's description is).
COST_OF_INACTION = "cost of inaction cost of doing nothing risk of delay business case return on investment payback urgency"
# The roles a buying group needs, in the order material for them is offered (crm ContactRole values).
GROUP_ROLES = (ContactRole.DECISION_MAKER, ContactRole.ECONOMIC_BUYER, ContactRole.CHAMPION, ContactRole.EXECUTIVE_SPONSOR,
               ContactRole.TECHNICAL_BUYER, ContactRole.INFLUENCER, ContactRole.USER)
MAX_ROLE_MATCHES = 2
MIN_TEXT_SCORE = 0.05  # below this cosine a text-only match is noise
DEFAULT_LIMIT = 6


def tag_key(value: str) -> str:
    return " ".join(str(value).lower().split())


@dataclass
class ModuleCard:
    id: int
    title: str
    kind: str
    summary: str
    authors: list[str]
    message_template: str
    tags: dict[str, list[str]]  # dimension -> display values


@dataclass
class LibraryIndex:
    version: tuple
    cards: list[ModuleCard]
    postings: dict[str, dict[str, np.ndarray]]  # dimension -> tag key -> module positions
    tagged: dict[str, np.ndarray]  # dimension -> bool mask: the module has a tag of this dimension
    labels: dict[str, dict[str, str]]  # dimension -> key -> display value
    vectorizer: object | None
    matrix: object | None  # sparse CSR, one L2-normalised row per module
    terms: np.ndarray | None = None
    matrix_t: object | None = None  # the same, transposed (CSR): one row per term, for fast scoring
    analyzer: object | None = None  # the vectorizer's tokenizer, stop words included
    idf: np.ndarray | None = None


@dataclass
class DealContext:
    opportunity_id: int
    stage: str
    phase: str
    roles: list[str]
    industry: str
    products: list[str]
    text: str
    decision_maker: str = ""
    # what the deal lacks (its signals at the last score, its qualification answers): {code: the reason shown}
    gaps: dict[str, str] = field(default_factory=dict)
    missing_roles: list[str] = field(default_factory=list)  # buying-group roles nobody on the deal holds


@dataclass
class Suggestion:
    module_id: int
    title: str
    kind: str
    kind_label: str
    summary: str
    authors: list[str]
    score: float
    reasons: list[str] = field(default_factory=list)
    message: str = ""


_lock = threading.Lock()
_cache: dict[str, LibraryIndex] = {}


def versions() -> tuple[tuple, object]:
    """The library's version (changes whenever a module is created, changed (status, tags and
    authors go through a save) or deleted) and the settings' version, in one query."""
    modules, settings = ContentModule._meta.db_table, EnablementSettings._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM {modules}), (SELECT MAX(updated_at) FROM {modules}), "
                       f"(SELECT MAX(updated_at) FROM {settings})")
        n, last, settings_changed = cursor.fetchone()
    return (n, str(last or "")), settings_changed


def library_version() -> tuple:
    return versions()[0]


def current_state() -> tuple[LibraryIndex, EnablementSettings]:
    """The cached index and settings, rebuilt when the library or the settings changed."""
    version, settings_version = versions()
    cached = _cache.get("settings")
    if cached is None or cached[0] != settings_version or settings_version is None:
        settings = EnablementSettings.current()
        _cache["settings"] = (settings_version, settings) if settings_version is not None else None
    else:
        settings = cached[1]
    index = _cache.get("index")
    if index is None or index.version != version:
        with _lock:
            index = _cache.get("index")
            if index is None or index.version != version:
                index = build_index(version)
                _cache["index"] = index
    return index, settings


def get_index() -> LibraryIndex:
    return current_state()[0]


def module_document(title: str, summary: str, body: str, extracted: str, challenges: list[str]) -> str:
    # the title and challenges count twice: they say what the module is about
    return " ".join([title, title, summary, body, extracted[:20_000], *challenges, *challenges])


def build_index(version: tuple = ()) -> LibraryIndex:
    from sklearn.feature_extraction.text import TfidfVectorizer

    rows = list(ContentModule.objects.published().order_by("pk")
                .values_list("pk", "title", "kind", "summary", "body", "extracted_text", "message_template"))
    position = {row[0]: i for i, row in enumerate(rows)}
    tags: dict[int, dict[str, list[str]]] = {}
    for module_id, dimension, value in (ContentTag.objects.filter(module__status=ContentStatus.PUBLISHED)
                                        .values_list("module_id", "dimension", "value").order_by("pk")):
        tags.setdefault(module_id, {}).setdefault(dimension, []).append(value)
    authors: dict[int, list[str]] = {}
    through = ContentModule.authors.through
    for module_id, full_name, username in (through.objects.filter(contentmodule__status=ContentStatus.PUBLISHED)
                                           .values_list("contentmodule_id", "user__full_name", "user__username")
                                           .order_by("pk")):
        authors.setdefault(module_id, []).append(full_name or username)

    n = len(rows)
    postings_lists: dict[str, dict[str, list[int]]] = {d: {} for d in TagDimension.values}
    labels: dict[str, dict[str, str]] = {d: {} for d in TagDimension.values}
    tagged = {d: np.zeros(n, dtype=bool) for d in TagDimension.values}
    cards, docs = [], []
    for pk, title, kind, summary, body, extracted, template in rows:
        i = position[pk]
        module_tags = tags.get(pk, {})
        for dimension, values in module_tags.items():
            tagged[dimension][i] = True
            for value in values:
                key = tag_key(value)
                postings_lists[dimension].setdefault(key, []).append(i)
                labels[dimension].setdefault(key, value)
        cards.append(ModuleCard(pk, title, kind, summary, authors.get(pk, []), template, module_tags))
        docs.append(module_document(title, summary, body, extracted, module_tags.get(TagDimension.CHALLENGE, [])))
    postings = {d: {k: np.asarray(v, dtype=np.int64) for k, v in keys.items()} for d, keys in postings_lists.items()}
    vectorizer = matrix = terms = None
    if n:
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1, max_df=0.5 if n >= 20 else 1.0,
                                     token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9-]+\b", dtype=np.float32)
        try:
            matrix = vectorizer.fit_transform(docs).tocsr()
            terms = vectorizer.get_feature_names_out()
        except ValueError:  # no usable words at all (e.g. only stop words)
            vectorizer = matrix = None
    matrix_t = matrix.T.tocsr() if matrix is not None else None
    return LibraryIndex(version, cards, postings, tagged, labels, vectorizer, matrix, terms, matrix_t,
                        vectorizer.build_analyzer() if matrix is not None else None,
                        vectorizer.idf_ if matrix is not None else None)


def deal_context(opportunity: Opportunity, settings: EnablementSettings | None = None) -> DealContext:
    """What the suggestion needs to know about a deal (the caller has checked it is visible)."""
    settings = settings or EnablementSettings.current()
    group = list(opportunity.contact_roles.order_by("-is_primary", "pk")
                 .values_list("role", "contact__first_name", "contact__last_name"))
    roles = sorted({role for role, _f, _l in group})
    decision_maker = next((f"{first} {last}".strip() for role, first, last in group
                           if role in (ContactRole.DECISION_MAKER, ContactRole.ECONOMIC_BUYER)), "")
    products = []
    for name, family in opportunity.line_items.values_list("product__name", "product__family"):
        products.extend(v for v in (name, family) if v)
    industry = opportunity.account.industry if opportunity.account_id and opportunity.account else ""
    text = " ".join([opportunity.description or "", " ".join(products), industry])
    gaps, missing = deal_gaps(opportunity, roles)
    return DealContext(opportunity.pk, opportunity.stage, settings.phase_for_stage(opportunity.stage), roles, industry,
                       sorted(set(products)), text, decision_maker, gaps, missing)


def deal_gaps(opportunity: Opportunity, roles: list[str]) -> tuple[dict[str, str], list[str]]:
    """What the deal lacks that content can help with: its signals as last scored (stored with the win score,
    one query) and a "no" to the compelling-event question; and the buying-group roles nobody holds."""
    from dealpilot.deals.models import QualificationAnswer, WinScore

    codes = {v.get("code") for v in (WinScore.objects.filter(opportunity=opportunity).values_list("vulnerabilities", flat=True)
                                      .first() or [])}
    gaps = {code: text for code, text in THREAD_GAPS.items() if code in codes}
    missing = [r for r in GROUP_ROLES if r not in roles] if gaps else []
    if not opportunity.is_closed and QualificationAnswer.objects.filter(
            opportunity=opportunity, question__key="compelling_event", value="no").exists():
        gaps["no_compelling_event"] = "The buyer has no compelling event"
    return gaps, missing


def urgency_cosines(index: LibraryIndex) -> np.ndarray | None:
    """Each module's text against the cost-of-inaction words (None without a text index)."""
    if index.matrix is None:
        return None
    q = query_vector(index, COST_OF_INACTION)
    return cosine_all(index, q) if q.nnz else np.zeros(len(index.cards))


def score(index: LibraryIndex, ctx: DealContext, urgency: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Scores of every module for a deal (-inf where the module does not fit), the text cosines,
    and the deal's TF-IDF vector. `urgency`: urgency_cosines(index), read when the deal has no compelling event."""
    n = len(index.cards)
    scores = np.zeros(n, dtype=np.float64)
    fits = np.ones(n, dtype=bool)
    post = index.postings

    def positions(dimension: str, value: str) -> np.ndarray:
        return post[dimension].get(tag_key(value), _EMPTY)

    # hard fit: a phase- or industry-tagged module fits only deals in that phase / industry
    in_phase = np.zeros(n, dtype=bool)
    in_phase[positions(TagDimension.PHASE, ctx.phase)] = True
    fits &= ~index.tagged[TagDimension.PHASE] | in_phase
    in_industry = np.zeros(n, dtype=bool)
    if ctx.industry:
        in_industry[positions(TagDimension.INDUSTRY, ctx.industry)] = True
    fits &= ~index.tagged[TagDimension.INDUSTRY] | in_industry

    scores[positions(TagDimension.STAGE, ctx.stage)] += WEIGHTS["stage"]
    scores[in_phase] += WEIGHTS["phase"]
    scores[in_industry] += WEIGHTS["industry"]
    role_hits = np.zeros(n, dtype=np.float64)
    for role in ctx.roles:
        role_hits[positions(TagDimension.BUYER_ROLE, role)] += 1
    scores += WEIGHTS["buyer_role"] * np.minimum(role_hits, MAX_ROLE_MATCHES)
    for product in ctx.products:
        scores[positions(TagDimension.PRODUCT, product)] += WEIGHTS["product"]
    text_key = tag_key(ctx.text)
    if text_key:
        for key, where in post[TagDimension.CHALLENGE].items():
            if key in text_key:
                scores[where] += WEIGHTS["challenge"]
    if ctx.missing_roles:  # material for the roles the deal has not reached yet
        missing_hits = np.zeros(n, dtype=bool)
        for role in ctx.missing_roles:
            missing_hits[positions(TagDimension.BUYER_ROLE, role)] = True
        scores[missing_hits] += WEIGHTS["gap"]
    if "no_compelling_event" in ctx.gaps and urgency is not None:
        scores += WEIGHTS["gap"] * np.where(urgency >= MIN_TEXT_SCORE, np.minimum(1.0, 3 * urgency), 0.0)
    cosines, query = np.zeros(n), None
    if index.matrix is not None and ctx.text.strip():
        query = query_vector(index, ctx.text)
        if query.nnz:
            cosines = cosine_all(index, query)
            scores += WEIGHTS["text"] * np.where(cosines >= MIN_TEXT_SCORE, cosines, 0.0)
    scores[~fits] = -np.inf
    return scores, cosines, query


_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass
class QueryVector:
    indices: np.ndarray
    data: np.ndarray

    @property
    def nnz(self) -> int:
        return len(self.indices)


def query_vector(index: LibraryIndex, text: str) -> QueryVector:
    """The deal's TF-IDF vector exactly as the fitted vectorizer computes it (sublinear tf x idf,
    L2-normalised), without scikit-learn's per-call overhead: one short text, a few terms."""
    counts: dict[int, int] = {}
    vocabulary = index.vectorizer.vocabulary_
    for token in index.analyzer(text):
        term = vocabulary.get(token)
        if term is not None:
            counts[term] = counts.get(term, 0) + 1
    if not counts:
        return QueryVector(_EMPTY, np.zeros(0))
    indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
    data = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * index.idf[indices]
    return QueryVector(indices, data / np.linalg.norm(data))


def cosine_all(index: LibraryIndex, query) -> np.ndarray:
    """Cosine of the deal's vector with every module: only the posting lists of the deal's own
    terms are touched (the transposed matrix), summed with bincount."""
    mt = index.matrix_t
    starts, ends = mt.indptr[query.indices], mt.indptr[query.indices + 1]
    modules = np.concatenate([mt.indices[a:b] for a, b in zip(starts, ends)])
    weights = np.concatenate([mt.data[a:b] * w for a, b, w in zip(starts, ends, query.data)])
    return np.bincount(modules, weights=weights, minlength=len(index.cards))


def suggest(opportunity: Opportunity, *, limit: int = DEFAULT_LIMIT, settings: EnablementSettings | None = None,
            index: LibraryIndex | None = None, render_messages: bool = True) -> list[Suggestion]:
    """The best-fitting published modules for an opportunity the caller may see, with reasons."""
    if index is None or settings is None:
        cached_index, cached_settings = current_state()
        index, settings = index or cached_index, settings or cached_settings
    if not index.cards:
        return []
    ctx = deal_context(opportunity, settings)
    urgency = urgency_cosines(index) if "no_compelling_event" in ctx.gaps else None
    scores, cosines, query = score(index, ctx, urgency)
    positive = np.flatnonzero(scores > 0)
    if not len(positive):
        return []
    if len(positive) > limit * 8:  # partial sort: only the best few need ordering
        positive = positive[np.argpartition(-scores[positive], limit)[:limit]]
    top = positive[np.argsort(-scores[positive], kind="stable")][:limit]
    values = deal_values(opportunity, decision_maker=ctx.decision_maker) if render_messages else {}
    out = []
    for i in top:
        card = index.cards[i]
        reasons = _reasons(index, ctx, card, float(cosines[i]), i, query, urgency)
        message = render_template(card.message_template, values) if render_messages and card.message_template else ""
        out.append(Suggestion(card.id, card.title, card.kind, ContentKind(card.kind).label, card.summary, card.authors,
                              round(float(scores[i]), 3), reasons, message))
    return out


def _reasons(index: LibraryIndex, ctx: DealContext, card: ModuleCard, cosine: float, i: int, query,
             urgency: np.ndarray | None = None) -> list[str]:
    keys = {d: {tag_key(v) for v in values} for d, values in card.tags.items()}
    reasons = []
    for_missing = [r for r in ctx.missing_roles if r in keys.get(TagDimension.BUYER_ROLE, ())]
    if for_missing:
        why = next(iter(ctx.gaps.values()))
        names = ", ".join(ContactRole(r).label.lower() for r in for_missing[:2])
        reasons.append(f"{why}: material for the {names} you have not reached yet")
    if urgency is not None and urgency[i] >= MIN_TEXT_SCORE:
        reasons.append("The buyer has no compelling event: this states the cost of doing nothing")
    if tag_key(ctx.stage) in keys.get(TagDimension.STAGE, ()):
        reasons.append(f"Made for the {ctx.stage} stage")
    if ctx.phase in keys.get(TagDimension.PHASE, ()):
        reasons.append(f"Fits the {JourneyPhase(ctx.phase).label.lower()} phase of the customer's journey")
    matched_roles = [r for r in ctx.roles if r in keys.get(TagDimension.BUYER_ROLE, ())]
    if matched_roles:
        names = ", ".join(ContactRole(r).label.lower() if r in ContactRole.values else r for r in matched_roles)
        reasons.append(f"Speaks to the {names} in the buying group")
    if ctx.industry and tag_key(ctx.industry) in keys.get(TagDimension.INDUSTRY, ()):
        reasons.append(f"Written for {ctx.industry}")
    products = [p for p in ctx.products if tag_key(p) in keys.get(TagDimension.PRODUCT, ())]
    if products:
        reasons.append("About " + ", ".join(products))
    text_key = tag_key(ctx.text)
    challenges = [v for v in card.tags.get(TagDimension.CHALLENGE, []) if tag_key(v) in text_key]
    if challenges:
        reasons.append(f"Addresses the challenge in the deal: \u201c{challenges[0]}\u201d")
    if cosine >= MIN_TEXT_SCORE and query is not None and index.terms is not None:
        m = index.matrix
        cols, vals = m.indices[m.indptr[i]:m.indptr[i + 1]], m.data[m.indptr[i]:m.indptr[i + 1]]
        weight = dict(zip(query.indices.tolist(), query.data.tolist()))
        shared = sorted(((v * weight[c], c) for c, v in zip(cols.tolist(), vals.tolist()) if c in weight), reverse=True)[:3]
        if shared:
            reasons.append("Matches the deal's description: " + ", ".join(str(index.terms[c]) for _w, c in shared))
    return reasons


def suggestions_for(user, opportunity_id: int, *, limit: int = DEFAULT_LIMIT) -> list[Suggestion] | None:
    """Suggestions for an opportunity `user` may see; None when they may not (a 404 at the edges)."""
    opportunity = (Opportunity.objects.visible_to(user).select_related("account", "owner").filter(pk=opportunity_id).first())
    if opportunity is None:
        return None
    return suggest(opportunity, limit=limit)
