from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horus.domain.errors import FieldProblem, InvalidRequest, UnsupportedGrantType
from horus.domain.token_request import requested_scopes, require_client_credentials, required_text


@pytest.mark.parametrize(
    ("value", "problem", "message"),
    [
        (None, FieldProblem.MISSING, "clientId is required"),
        ("", FieldProblem.MISSING, "clientId is required"),
        (42, FieldProblem.NOT_TEXT, "clientId must be a string"),
        (["a"], FieldProblem.NOT_TEXT, "clientId must be a string"),
        (True, FieldProblem.NOT_TEXT, "clientId must be a string"),
        ("x" * 257, FieldProblem.TOO_LONG, "clientId must be at most 256 characters"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(value: object, problem: FieldProblem, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        required_text("clientId", value, 256)
    assert (problem, message, "clientId") == (raised.value.problem, raised.value.message, raised.value.field)


def test_a_field_at_its_limit_is_accepted() -> None:
    assert required_text("clientId", "x" * 256, 256) == "x" * 256


def test_only_client_credentials_is_a_supported_grant() -> None:
    require_client_credentials("grantType", "client_credentials")
    with pytest.raises(UnsupportedGrantType) as raised:
        require_client_credentials("grantType", "password")
    assert (FieldProblem.UNSUPPORTED, "grantType must be client_credentials") == (
        raised.value.problem,
        raised.value.message,
    )


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("  ", None), ("b a a", ("a", "b"))])
def test_requested_scopes_are_a_set_and_empty_means_absent(raw: object, expected: object) -> None:
    assert expected == requested_scopes("scope", raw)


@given(
    st.one_of(
        st.none(), st.integers(), st.floats(), st.text(), st.lists(st.text()), st.dictionaries(st.text(), st.text())
    )
)
def test_any_value_either_passes_as_text_or_raises_invalid_request(value: object) -> None:
    if isinstance(value, str) and 0 < len(value) <= 1024:
        assert value == required_text("clientSecret", value, 1024)
    else:
        with pytest.raises(InvalidRequest) as raised:
            required_text("clientSecret", value, 1024)
        assert "clientSecret" == raised.value.field
