"""The Stripe adapter against the real stripe-mock, through a recording proxy.

What is asserted is what went over the wire: paths, form parameters and the Idempotency-Key
header, as stripe-mock received (and validated against Stripe's OpenAPI spec) them. stripe-mock
answers with canned objects and never fails on demand, so declines, 5xx, 429, timeouts and
dropped connections come from a stub server answering with Stripe-shaped error bodies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from payment_svc.adapters.stripe_provider import StripeProvider
from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)
from testkit.http_recorder import Drop, Hang, RecordedRequest, RecordingServer, Reply, answers, forward_to
from testkit.processes import free_port
from testkit.stripe_mock import TEST_API_KEY, StripeMock
from tests.integration.payment_svc import stripe_objects

pytestmark = pytest.mark.integration

TIMEOUT_S = 5.0
SHORT_TIMEOUT_S = 0.5


def new_request(**changes: Any) -> AuthorizeRequest:
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    fields: dict[str, Any] = {
        "idempotency_key": f"{order_id}:authorize:1",
        "order_id": order_id,
        "customer_id": f"cus-{uuid.uuid4().hex[:8]}",
        "amount_minor": 1234,
        "currency": "EUR",
        "payment_method": "pm_card_visa",
    }
    return AuthorizeRequest(**(fields | changes))


def metadata_of(request: AuthorizeRequest) -> dict[str, str]:
    return {
        "order_id": request.order_id,
        "customer_id": request.customer_id,
        "idempotency_key": request.idempotency_key,
    }


@pytest.fixture(scope="module")
def stripe_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeMock]:
    """stripe-mock with its bundled fixtures (its canned PaymentIntent is unconfirmed)."""
    with StripeMock(tmp_path_factory.mktemp("stripe-mock")) as mock:
        yield mock


@pytest.fixture
def stripe_mock_with(tmp_path: Path) -> Iterator[Callable[..., StripeMock]]:
    """``stripe_mock_with(payment_intent=..., refund=...)``: a stripe-mock of this test's own
    whose canned objects are these (a held intent carrying the test's metadata, say)."""
    started: list[StripeMock] = []

    def start(**fixtures: dict[str, Any]) -> StripeMock:
        mock = StripeMock(tmp_path / f"stripe-mock-{len(started)}", fixtures=fixtures)
        started.append(mock)
        mock.start()
        return mock

    yield start
    for mock in started:
        mock.stop()


@pytest.fixture
async def providers() -> AsyncIterator[Callable[..., StripeProvider]]:
    """``providers(url)`` → a StripeProvider on that API base, closed after the test."""
    made: list[StripeProvider] = []

    def make(api_base: str, *, timeout_s: float = TIMEOUT_S, api_key: str = TEST_API_KEY) -> StripeProvider:
        provider = StripeProvider(api_key, api_base, timeout_s)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., Any]]:
    """``await servers(responder)`` → a started RecordingServer, stopped after the test."""
    started: list[RecordingServer] = []

    async def start(respond: Any) -> RecordingServer:
        server = RecordingServer(respond)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


def only(requests: list[RecordedRequest]) -> RecordedRequest:
    assert len(requests) == 1, [f"{r.method} {r.target}" for r in requests]
    return requests[0]


def assert_authorize_request(sent: RecordedRequest, request: AuthorizeRequest) -> None:
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert sent.headers["idempotency-key"] == request.idempotency_key
    assert sent.form == {
        "amount": str(request.amount_minor),
        "currency": request.currency.lower(),
        "payment_method": request.payment_method,
        "allowed_payment_method_types[0]": "card",
        "capture_method": "manual",
        "confirm": "true",
        "error_on_requires_action": "true",
        "metadata[order_id]": request.order_id,
        "metadata[customer_id]": request.customer_id,
        "metadata[idempotency_key]": request.idempotency_key,
    }


# --- against stripe-mock -------------------------------------------------------------------------


async def test_authorize_sends_one_confirmed_manual_capture_intent_and_reads_the_hold(
    stripe_mock_with: Callable[..., StripeMock], servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    request = new_request()
    held = stripe_objects.payment_intent(status="requires_capture", metadata=metadata_of(request))
    mock = stripe_mock_with(payment_intent=held, refund=stripe_objects.refund())
    proxy = await servers(forward_to(mock.url))

    authorization = await providers(proxy.url).authorize(request)

    assert_authorize_request(only(proxy.requests), request)
    # stripe-mock made a fresh id and reflected the amount and currency sent.
    assert authorization.status is AuthorizationStatus.AUTHORIZED
    assert authorization.provider_ref.startswith("pi_")
    assert (authorization.amount_minor, authorization.currency) == (1234, "EUR")
    assert (authorization.decline_code, authorization.reason) == ("", "")


async def test_a_repeated_authorize_sends_the_same_key_and_body(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    proxy = await servers(forward_to(stripe_mock.url))
    provider = providers(proxy.url)
    request = new_request()

    await provider.authorize(request)
    await provider.authorize(request)
    await provider.authorize(new_request(order_id=request.order_id, idempotency_key=f"{request.order_id}:authorize:2"))

    first, again, next_attempt = proxy.requests
    assert again.headers["idempotency-key"] == first.headers["idempotency-key"] == request.idempotency_key
    assert again.body == first.body
    assert next_attempt.headers["idempotency-key"] == f"{request.order_id}:authorize:2"


async def test_the_bundled_unconfirmed_intent_reads_as_a_decline_not_an_authorization(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    # stripe-mock's own canned PaymentIntent is in requires_payment_method: nothing is held.
    proxy = await servers(forward_to(stripe_mock.url))
    request = new_request(amount_minor=990, currency="USD")

    authorization = await providers(proxy.url).authorize(request)

    assert_authorize_request(only(proxy.requests), request)
    assert authorization.status is AuthorizationStatus.DECLINED
    assert authorization.provider_ref.startswith("pi_")
    assert (authorization.amount_minor, authorization.currency) == (990, "USD")
    assert authorization.decline_code == "card_declined"
    assert authorization.reason == "Your card was declined."


async def test_find_searches_the_intents_by_order_and_key_and_reads_the_hold(
    stripe_mock_with: Callable[..., StripeMock], servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    request = new_request()
    held = stripe_objects.payment_intent(
        intent_id="pi_3OmsFound", status="requires_capture", metadata=metadata_of(request)
    )
    mock = stripe_mock_with(payment_intent=held, refund=stripe_objects.refund())
    proxy = await servers(forward_to(mock.url))

    found = await providers(proxy.url).find(request.idempotency_key, request.order_id)

    sent = only(proxy.requests)
    assert (sent.method, sent.path) == ("GET", "/v1/payment_intents/search")
    assert sent.query == {
        "query": f"metadata['order_id']:'{request.order_id}' AND "
        f"metadata['idempotency_key']:'{request.idempotency_key}'",
        "limit": "10",
    }
    assert "idempotency-key" not in sent.headers  # a read
    assert found == Authorization(AuthorizationStatus.AUTHORIZED, "pi_3OmsFound", 1234, "EUR")


async def test_find_reads_a_declined_intent_with_its_decline_code(
    stripe_mock_with: Callable[..., StripeMock], servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    request = new_request()
    failure = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "x"}
    declined = stripe_objects.payment_intent(
        intent_id="pi_3OmsDeclined", status="requires_payment_method", metadata=metadata_of(request),
        last_payment_error=failure,
    )  # fmt: skip
    mock = stripe_mock_with(payment_intent=declined, refund=stripe_objects.refund())
    proxy = await servers(forward_to(mock.url))

    found = await providers(proxy.url).find(request.idempotency_key, request.order_id)

    assert found == Authorization(
        AuthorizationStatus.DECLINED, "pi_3OmsDeclined", 1234, "EUR", "insufficient_funds",
        "Your card has insufficient funds.",
    )  # fmt: skip


async def test_find_answers_none_when_no_intent_carries_the_key(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    # The bundled canned intents carry no metadata: none is this order's.
    proxy = await servers(forward_to(stripe_mock.url))
    request = new_request()

    assert await providers(proxy.url).find(request.idempotency_key, request.order_id) is None
    assert only(proxy.requests).path == "/v1/payment_intents/search"


async def test_capture_posts_the_amount_under_its_key(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    proxy = await servers(forward_to(stripe_mock.url))

    await providers(proxy.url).capture("pi_3OmsCapture", 1234, "ord-1:capture")

    sent = only(proxy.requests)
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents/pi_3OmsCapture/capture")
    assert sent.form == {"amount_to_capture": "1234"}
    assert sent.headers["idempotency-key"] == "ord-1:capture"


async def test_refund_of_an_uncaptured_hold_cancels_the_intent(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    proxy = await servers(forward_to(stripe_mock.url))

    await providers(proxy.url).refund("pi_3OmsCancel", 1234, "ord-1:refund", captured=False)

    sent = only(proxy.requests)
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents/pi_3OmsCancel/cancel")
    assert sent.form == {"cancellation_reason": "requested_by_customer"}
    assert sent.headers["idempotency-key"] == "ord-1:refund"


async def test_refund_of_a_capture_creates_a_refund(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    proxy = await servers(forward_to(stripe_mock.url))

    await providers(proxy.url).refund("pi_3OmsRefund", 700, "ord-1:refund", captured=True)

    sent = only(proxy.requests)
    assert (sent.method, sent.path) == ("POST", "/v1/refunds")
    assert sent.form == {"payment_intent": "pi_3OmsRefund", "amount": "700"}
    assert sent.headers["idempotency-key"] == "ord-1:refund"


async def test_a_key_stripe_refuses_is_a_rejection(
    stripe_mock: StripeMock, servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    proxy = await servers(forward_to(stripe_mock.url))

    with pytest.raises(ProviderRejected, match="AuthenticationError"):
        await providers(proxy.url, api_key="not-a-secret-key").authorize(new_request())


# --- against a stub answering as Stripe does when things go wrong --------------------------------


async def test_a_card_error_is_a_decline_with_its_code_and_a_sentence_for_the_customer(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    left = stripe_objects.payment_intent(intent_id="pi_3OmsLeft", status="requires_payment_method")
    body = stripe_objects.card_error("insufficient_funds", "Your card has insufficient funds.", intent=left)
    stub = await servers(answers(Reply.json(402, body, {"request-id": "req_test"})))
    request = new_request()

    authorization = await providers(stub.url).authorize(request)

    assert_authorize_request(only(stub.requests), request)
    assert authorization == Authorization(
        AuthorizationStatus.DECLINED, "pi_3OmsLeft", 1234, "EUR", "insufficient_funds",
        "Your card has insufficient funds.",
    )  # fmt: skip


async def test_a_fraud_decline_reads_as_a_plain_decline_to_the_customer(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    body = stripe_objects.card_error("fraudulent", "Your card was declined.")
    stub = await servers(answers(Reply.json(402, body)))

    authorization = await providers(stub.url).authorize(new_request())

    assert (authorization.status, authorization.provider_ref) == (AuthorizationStatus.DECLINED, "")
    assert (authorization.decline_code, authorization.reason) == ("fraudulent", "Your card was declined.")


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, stripe_objects.api_error()), (503, stripe_objects.api_error("Service unavailable")),
     (429, stripe_objects.rate_limited())],
)  # fmt: skip
async def test_5xx_and_429_are_unavailable(
    servers: Any, providers: Callable[..., StripeProvider], status: int, body: dict[str, Any]
) -> None:
    stub = await servers(answers(Reply.json(status, body)))

    with pytest.raises(ProviderUnavailable):
        await providers(stub.url).authorize(new_request())
    assert len(stub.requests) == 1  # the SDK's own retries are off: the service decides


async def test_an_invalid_request_is_rejected(servers: Any, providers: Callable[..., StripeProvider]) -> None:
    body = stripe_objects.invalid_request("parameter_invalid_integer", "Invalid integer: -5")
    stub = await servers(answers(Reply.json(400, body)))

    with pytest.raises(ProviderRejected, match="Invalid integer"):
        await providers(stub.url).authorize(new_request())


async def test_no_answer_after_the_request_arrived_is_an_unknown_outcome(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    stub = await servers(answers(Hang()))
    request = new_request()

    with pytest.raises(ProviderOutcomeUnknown):
        await providers(stub.url, timeout_s=SHORT_TIMEOUT_S).authorize(request)
    assert_authorize_request(only(stub.requests), request)


async def test_a_connection_dropped_after_the_request_is_an_unknown_outcome(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    stub = await servers(answers(Drop()))

    with pytest.raises(ProviderOutcomeUnknown):
        await providers(stub.url).authorize(new_request())
    assert len(stub.requests) == 1


async def test_a_refused_connection_is_unavailable(providers: Callable[..., StripeProvider]) -> None:
    # Nothing listens there: the request never left, so repeating it is plainly safe.
    with pytest.raises(ProviderUnavailable):
        await providers(f"http://127.0.0.1:{free_port()}").authorize(new_request())


async def test_a_provider_that_times_out_then_answers_is_asked_again_under_the_same_key(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    request = new_request()
    held = stripe_objects.payment_intent(intent_id="pi_3OmsLate", metadata=metadata_of(request))
    stub = await servers(answers(Hang(), Reply.json(200, held)))
    provider = providers(stub.url, timeout_s=SHORT_TIMEOUT_S)

    with pytest.raises(ProviderOutcomeUnknown):
        await provider.authorize(request)
    authorization = await provider.authorize(request)

    assert authorization == Authorization(AuthorizationStatus.AUTHORIZED, "pi_3OmsLate", 1234, "EUR")
    first, second = stub.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == request.idempotency_key
    assert first.body == second.body


async def test_find_that_gets_no_answer_is_unavailable_not_unknown(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    stub = await servers(answers(Hang()))
    request = new_request()

    with pytest.raises(ProviderUnavailable):
        await providers(stub.url, timeout_s=SHORT_TIMEOUT_S).find(request.idempotency_key, request.order_id)


async def test_find_ignores_intents_of_other_keys(servers: Any, providers: Callable[..., StripeProvider]) -> None:
    request = new_request()
    other = stripe_objects.payment_intent(metadata=metadata_of(new_request(order_id=request.order_id)))
    stub = await servers(answers(Reply.json(200, stripe_objects.search_result(other))))

    assert await providers(stub.url).find(request.idempotency_key, request.order_id) is None


async def test_waiting_for_stripe_does_not_block_the_event_loop(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    stub = await servers(answers(Hang()))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(ProviderOutcomeUnknown):
            await providers(stub.url, timeout_s=1.0).authorize(new_request())
    finally:
        ticker.cancel()
    # A blocking call would have held the loop for the whole second: no tick at all.
    assert ticks >= 20


@pytest.mark.parametrize("status", ["succeeded"])
async def test_capturing_a_captured_intent_is_not_an_error(
    servers: Any, providers: Callable[..., StripeProvider], status: str
) -> None:
    intent = stripe_objects.payment_intent(intent_id="pi_3OmsDone", status=status)
    body = stripe_objects.invalid_request("payment_intent_unexpected_state", "already captured", intent=intent)
    stub = await servers(answers(Reply.json(400, body)))

    await providers(stub.url).capture("pi_3OmsDone", 1234, "ord-1:capture")

    assert only(stub.requests).path == "/v1/payment_intents/pi_3OmsDone/capture"


async def test_capturing_a_cancelled_intent_is_rejected(servers: Any, providers: Callable[..., StripeProvider]) -> None:
    intent = stripe_objects.payment_intent(intent_id="pi_3OmsGone", status="canceled")
    body = stripe_objects.invalid_request("payment_intent_unexpected_state", "it was canceled", intent=intent)
    stub = await servers(answers(Reply.json(400, body)))

    with pytest.raises(ProviderRejected, match="canceled"):
        await providers(stub.url).capture("pi_3OmsGone", 1234, "ord-1:capture")


async def test_capture_reads_the_intent_when_the_error_does_not_carry_it(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    captured = stripe_objects.payment_intent(intent_id="pi_3OmsDone", status="succeeded")
    unexpected = stripe_objects.invalid_request("payment_intent_unexpected_state", "already captured")
    stub = await servers(answers(Reply.json(400, unexpected), Reply.json(200, captured)))

    await providers(stub.url).capture("pi_3OmsDone", 1234, "ord-1:capture")

    capture, read = stub.requests
    assert capture.path == "/v1/payment_intents/pi_3OmsDone/capture"
    assert (read.method, read.path) == ("GET", "/v1/payment_intents/pi_3OmsDone")


async def test_cancelling_a_cancelled_intent_is_not_an_error(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    intent = stripe_objects.payment_intent(intent_id="pi_3OmsGone", status="canceled")
    body = stripe_objects.invalid_request("payment_intent_unexpected_state", "already canceled", intent=intent)
    stub = await servers(answers(Reply.json(400, body)))

    await providers(stub.url).refund("pi_3OmsGone", 1234, "ord-1:refund", captured=False)

    assert len(stub.requests) == 1


async def test_cancelling_an_intent_captured_meanwhile_refunds_it_under_a_key_of_its_own(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    intent = stripe_objects.payment_intent(intent_id="pi_3OmsRaced", status="succeeded")
    body = stripe_objects.invalid_request("payment_intent_unexpected_state", "already succeeded", intent=intent)
    stub = await servers(
        answers(Reply.json(400, body), Reply.json(200, stripe_objects.refund(intent_id="pi_3OmsRaced")))
    )

    await providers(stub.url).refund("pi_3OmsRaced", 1234, "ord-1:refund", captured=False)

    cancel, refund = stub.requests
    assert cancel.path == "/v1/payment_intents/pi_3OmsRaced/cancel"
    assert (refund.path, refund.form) == ("/v1/refunds", {"payment_intent": "pi_3OmsRaced", "amount": "1234"})
    assert refund.headers["idempotency-key"] == "ord-1:refund:refund"


async def test_refunding_a_refunded_charge_is_not_an_error(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    body = stripe_objects.invalid_request("charge_already_refunded", "Charge ch_1 has already been refunded.")
    stub = await servers(answers(Reply.json(400, body)))

    await providers(stub.url).refund("pi_3OmsRefunded", 1234, "ord-1:refund", captured=True)

    assert len(stub.requests) == 1


async def test_refunding_a_hold_that_was_never_captured_cancels_it(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    held = stripe_objects.payment_intent(intent_id="pi_3OmsHeld", status="requires_capture")
    body = stripe_objects.invalid_request("charge_not_captured", "This charge has not been captured", intent=held)
    cancelled = stripe_objects.payment_intent(intent_id="pi_3OmsHeld", status="canceled")
    stub = await servers(answers(Reply.json(400, body), Reply.json(200, cancelled)))

    await providers(stub.url).refund("pi_3OmsHeld", 1234, "ord-1:refund", captured=True)

    refund, cancel = stub.requests
    assert (refund.path, refund.headers["idempotency-key"]) == ("/v1/refunds", "ord-1:refund")
    assert (cancel.path, cancel.headers["idempotency-key"]) == (
        "/v1/payment_intents/pi_3OmsHeld/cancel",
        "ord-1:refund:cancel",
    )


async def test_a_capture_that_gets_no_answer_is_an_unknown_outcome(
    servers: Any, providers: Callable[..., StripeProvider]
) -> None:
    stub = await servers(answers(Hang()))

    with pytest.raises(ProviderOutcomeUnknown):
        await providers(stub.url, timeout_s=SHORT_TIMEOUT_S).capture("pi_3OmsSlow", 1234, "ord-1:capture")
