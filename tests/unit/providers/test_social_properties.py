"""The social platforms' parse/verify/normalize on any input: events or rejections, never an
exception; every documented sample (PROVIDERS.md) becomes only schema-valid events."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import Normalized, PayloadError, SignatureError
from pipeline.providers.registry import PROVIDERS
from pipeline.simulators.social import EXPECTED_TYPES, SAMPLES, sample, signed_request
from tests.support.documents import mutated
from tests.support.malformed import corrupt_bytes, encode, header_values, json_values
from tests.support.totality import PROPERTY, check_normalized

SOCIAL = sorted(SAMPLES)


def normalized(provider: str, body: bytes) -> Normalized | None:
    """What the worker makes of `body`; None when the ingress refuses it (400, kept)."""
    lineage = Lineage(provider, "inst1", "2025-11-20T12:30:01.000Z")
    try:
        payload = PROVIDERS[provider].parse(body)
    except PayloadError:
        return None
    return PROVIDERS[provider].normalize(payload, {}, lineage)


def samples_of(provider: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(sorted(SAMPLES[provider])).map(lambda name: sample(provider, name))


@pytest.mark.parametrize("provider", SOCIAL)
def test_every_documented_sample_becomes_only_schema_valid_events(provider: str) -> None:
    for name in SAMPLES[provider]:
        result = normalized(provider, sample(provider, name))
        assert result is not None, name
        assert result.rejected == [], name
        assert len(check_normalized(result)) == len(result.events) >= 1, name


@pytest.mark.parametrize(
    ("provider", "name"), [(p, n) for p in SOCIAL for n in sorted(EXPECTED_TYPES[p])]
)
def test_each_documented_sample_maps_to_its_catalog_type(provider: str, name: str) -> None:
    result = normalized(provider, sample(provider, name))
    assert result is not None
    assert [e["type"] for e in result.events] == [EXPECTED_TYPES[provider][name]]
    [found] = result.events
    assert found["provider"] == provider
    assert found["data"]["platform"] in {"facebook", "instagram", provider}


def test_every_sample_has_its_expected_type() -> None:
    assert {p: sorted(names) for p, names in EXPECTED_TYPES.items()} == {
        p: sorted(names) for p, names in SAMPLES.items()
    }


def _mutations(provider: str) -> st.SearchStrategy[bytes]:
    documents = st.sampled_from(sorted(SAMPLES[provider])).map(lambda n: SAMPLES[provider][n])
    json_documents = documents.filter(lambda d: not isinstance(d, bytes))
    return st.one_of(
        json_documents.flatmap(mutated).map(encode),
        samples_of(provider).flatmap(corrupt_bytes),
        json_values.map(encode),
    )


@pytest.mark.parametrize("provider", SOCIAL)
@PROPERTY
@given(data=st.data())
def test_any_body_is_events_or_rejections_never_an_exception(
    provider: str, data: st.DataObject
) -> None:
    body = data.draw(_mutations(provider))
    result = normalized(provider, body)
    if result is not None:
        check_normalized(result)
        assert result.events or result.rejected  # never silently nothing


@pytest.mark.parametrize("provider", SOCIAL)
@PROPERTY
@given(value=json_values)
def test_normalize_takes_any_json_value(provider: str, value: Any) -> None:
    try:
        payload = orjson.loads(encode(value))
    except orjson.JSONDecodeError:
        return  # not JSON any more: only `parse` sees it
    lineage = Lineage(provider, "inst1", "2025-11-20T12:30:01.000Z")
    check_normalized(PROVIDERS[provider].normalize(payload, {}, lineage))


@pytest.mark.parametrize("provider", SOCIAL)
@PROPERTY
@given(data=st.data())
def test_verify_accepts_the_platforms_signature_and_refuses_any_other(
    provider: str, data: st.DataObject
) -> None:
    body = data.draw(st.one_of(samples_of(provider), st.binary(max_size=100)))
    signer = PROVIDERS[provider]
    headers = {k.lower(): v for k, v in signed_request(provider, "s3cret", body, 1e9).items()}
    signer.verify("s3cret", headers, body, 1e9)
    with pytest.raises(SignatureError):
        signer.verify("other", headers, body, 1e9)
    forged = {name: data.draw(header_values) for name in headers}
    with pytest.raises(SignatureError):
        signer.verify("s3cret", forged, body, 1e9)
