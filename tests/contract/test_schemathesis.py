"""schemathesis against the in-process app, from the published contract: positive and negative requests.

The run is reproducible (derandomized) and small enough for CI on two cores. The number of
cases and their statuses are kept in CASES; tests/contract/conftest.py reports them.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from horus.adapters.http.application import HorusAsgiApp
from horus.app import Container, create_app
from horus.domain.administration import ClientAdministration
from tests.conftest import make_container, make_settings

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "horus.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# (method, path, phase, generation mode, status) of every case sent; conftest.py reports them.
CASES: Counter[tuple[str, str, str, str, int]] = Counter()


def load_contract(app: HorusAsgiApp) -> schemathesis.BaseSchema:
    """The one place the contract is loaded: schemathesis' loading API moved between 4.x releases."""
    schema = schemathesis.openapi.from_path(CONTRACT)
    schema.config.generation.update(modes=list(schemathesis.GenerationMode))
    schema.app = app
    return schema


def example_credentials() -> set[tuple[str, str]]:
    """The (client id, secret) pairs the contract's request examples use, in either wire format."""
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    pairs = set()
    for item in document["paths"].values():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for example in media.get("examples", {}).values():
                    body = example["value"]
                    for id_field, secret_field in (("clientId", "clientSecret"), ("client_id", "client_secret")):
                        if id_field in body and secret_field in body:
                            pairs.add((body[id_field], body[secret_field]))
    return pairs


def seed_clients(container: Container, credentials: set[tuple[str, str]]) -> None:
    """Registers clients in the storage the app will open, so that the examples (and some fuzzed cases) succeed.

    Only plain Singletons are touched: the storage Resource is opened by the app's lifespan,
    which schemathesis runs on its own event loop.
    """
    administration = ClientAdministration(
        container.storage(), container.secret_hasher(), container.clock(), container.randomness()
    )

    async def create_all() -> None:
        for client_id, secret in sorted(credentials):
            await administration.create(client_id=client_id, imported_secret=secret)

    asyncio.run(create_all())


def contract_app() -> HorusAsgiApp:
    # Every generated request comes from the same in-process address, so the per-address budget
    # would be spent by the first operation and turn every later authentication into a 429. The
    # per-clientId limit keeps its default, so 429 answers are still generated and checked. A day-long
    # window keeps the run from straddling a window boundary, so the same cases get the same statuses.
    horus_settings = make_settings(HORUS_THROTTLE_ADDRESS_FAILURES="1000000", HORUS_THROTTLE_WINDOW="86400")
    container = make_container(horus_settings)
    seed_clients(container, example_credentials())
    return create_app(container)


schema = load_contract(contract_app())


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 2.3.1: each part form-urlencoded, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


# Header values travel as latin-1 and may neither hold control characters nor start with whitespace.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
AUTHORIZATION = st.one_of(
    st.sampled_from([basic(client_id, secret) for client_id, secret in sorted(example_credentials())]),
    st.builds(basic, st.text(max_size=30), st.text(max_size=30)),
    st.binary(max_size=48).map(lambda raw: "Basic " + base64.b64encode(raw).decode("ascii")),
    st.builds("{} {}".format, st.sampled_from(["Basic", "basic", "BASIC", "Bearer", "Digest"]), _HEADER_TEXT),
    _HEADER_TEXT,
).map(str.lstrip)


@schema.hook
def flatmap_headers(context: schemathesis.HookContext, headers: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """The contract makes Basic optional, so schemathesis would never send it: add one half the time.

    Well-formed, malformed and foreign Authorization headers all reach the credential parsing.
    """
    if context.operation is None or not context.operation.path.startswith("/v1/oauth/"):
        return st.just(headers)
    with_authorization = AUTHORIZATION.map(lambda value: {**(headers or {}), "Authorization": value})
    return st.one_of(st.just(headers), with_authorization)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_app_answers_as_the_contract_says(case: schemathesis.Case) -> None:
    response = case.call()
    meta = case.meta
    phase, mode = (meta.phase.name.value, meta.generation.mode.value) if meta is not None else ("?", "?")
    CASES[(case.method, case.path, phase, mode, response.status_code)] += 1
    case.validate_response(response, checks=CHECKS)
