from __future__ import annotations

import pytest

from horus.domain.client import parse_scopes, validate_client_id, validate_name
from horus.domain.errors import InvalidClientData


@pytest.mark.parametrize("client_id", ["svc", "6f7503fc-2cc1-4cf1-b45c-e50f324bf8ca.library.apps", "a_b~c", "x" * 256])
def test_acceptable_client_ids(client_id: str) -> None:
    assert client_id == validate_client_id(client_id)


@pytest.mark.parametrize("client_id", ["", "x" * 257, "has space", "colon:id", "ünï", "nul\x00", "slash/"])
def test_unacceptable_client_ids(client_id: str) -> None:
    with pytest.raises(InvalidClientData, match="clientId must be"):
        validate_client_id(client_id)


def test_scopes_are_sorted_and_deduplicated() -> None:
    assert ("a", "b") == parse_scopes("b a b")
    assert () == parse_scopes("")


@pytest.mark.parametrize("scope", ["a  b", 'quo"te', "back\\slash", "tab\tx", "é"])
def test_scopes_outside_rfc6749_syntax_are_refused(scope: str) -> None:
    with pytest.raises(InvalidClientData):
        parse_scopes(scope)


def test_names_must_be_printable_and_short() -> None:
    assert "Billing API" == validate_name("Billing API")
    with pytest.raises(InvalidClientData):
        validate_name("x" * 201)
    with pytest.raises(InvalidClientData):
        validate_name("line\nbreak")
