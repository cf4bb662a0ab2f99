"""A local stand-in for Stripe's hosted Checkout (Payment Links), so the web app's upgrade works
on a laptop without Stripe.

The gateway hands the web app one Payment Link per plan (GATEWAY_WEB_CHECKOUT_LINKS); production
links go to Stripe, the local stack's come here. "Paying" sends the events Stripe would send for a
subscription bought through a link (checkout.session.completed, customer.subscription.created,
invoice.payment_succeeded), signed with the webhook secret exactly as Stripe signs them, to the
gateway's public webhook, then returns the browser to the app. The gateway has no local shortcut:
the events are verified like any others, and only a process holding the signing secret (this one,
started by the devstack alone) can make them.

    python -m imagegen_devstack.checkout --port 18444 --gateway http://127.0.0.1:8080
"""

import argparse
import hashlib
import hmac
import html
import json
import os
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

PLANS = {
    "basic": "500 credits a month",
    "pro": "2,000 credits a month",
    "enterprise": "10,000 credits a month",
}
PERIOD_SECONDS = 30 * 86400


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature`: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def subscription_events(team_id: str, price_id: str, now: int) -> list[dict]:
    """What Stripe sends when a team subscribes through a Payment Link, in the order it sends them."""
    # One customer and subscription per team, as Stripe keeps them for a returning customer.
    suffix = hashlib.sha256(team_id.encode()).hexdigest()[:14]
    customer, subscription = f"cus_local_{suffix}", f"sub_local_{suffix}"
    objects = [
        (
            "checkout.session.completed",
            {
                "id": f"cs_local_{uuid.uuid4().hex}",
                "object": "checkout.session",
                "mode": "subscription",
                "client_reference_id": team_id,
                "customer": customer,
                "subscription": subscription,
            },
        ),
        (
            "customer.subscription.created",
            {
                "id": subscription,
                "object": "subscription",
                "customer": customer,
                "status": "active",
                "items": {"data": [{"price": {"id": price_id}}]},
            },
        ),
        (
            "invoice.payment_succeeded",
            {
                "id": f"in_local_{uuid.uuid4().hex}",
                "object": "invoice",
                "customer": customer,
                "subscription": subscription,
                "lines": {
                    "data": [
                        {"price": {"id": price_id}, "period": {"start": now, "end": now + PERIOD_SECONDS}}
                    ]
                },
            },
        ),
    ]
    return [
        {
            "id": f"evt_local_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "created": now,
            "data": {"object": obj},
        }
        for event_type, obj in objects
    ]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local test checkout</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }}
.note {{ background: #fff4d6; border: 1px solid #c99a00; border-radius: 6px; padding: .75rem 1rem; }}
button {{ font: inherit; padding: .6rem 1.2rem; border: 0; background: #2f54eb; color: #fff; }}
</style></head><body>
<h1>Subscribe to the {plan} plan</h1>
<p>{allocation}, billed monthly.</p>
<p class="note">Local test checkout: this is the local stack's stand-in for Stripe Checkout. No card,
no Stripe. Subscribing sends Stripe's signed events to your gateway, as Stripe would.</p>
<form method="post">
<input type="hidden" name="client_reference_id" value="{team}">
<button type="submit">Subscribe</button> <a href="{cancel}">Cancel</a>
</form></body></html>
"""


class CheckoutServer(ThreadingHTTPServer):
    def __init__(self, port: int, gateway_url: str) -> None:
        super().__init__(("127.0.0.1", port), CheckoutHandler)
        self.gateway_url = gateway_url.rstrip("/")
        self.secret = os.environ["STRIPE_WEBHOOK_SECRET"]
        self.prices = {plan: os.environ[f"STRIPE_PRICE_{plan.upper()}"] for plan in PLANS}

    def pay(self, plan: str, team_id: str) -> None:
        now = int(time.time())
        with httpx.Client(timeout=10, trust_env=False) as client:
            for event in subscription_events(team_id, self.prices[plan], now):
                body = json.dumps(event).encode()
                response = client.post(
                    f"{self.gateway_url}/api/webhooks/stripe",
                    content=body,
                    headers={"Stripe-Signature": stripe_signature(body, self.secret, now)},
                )
                response.raise_for_status()


class CheckoutHandler(BaseHTTPRequestHandler):
    server: CheckoutServer

    def _plan(self) -> str | None:
        """The plan of a /pay/<plan> path."""
        path = urlsplit(self.path).path
        plan = path.removeprefix("/pay/")
        return plan if path.startswith("/pay/") and plan in PLANS else None

    def do_GET(self) -> None:
        plan = self._plan()
        team = parse_qs(urlsplit(self.path).query).get("client_reference_id", [""])[0]
        if plan is None or not team:
            self.send_error(404, "no such payment link (or no client_reference_id)")
            return
        page = PAGE.format(
            plan=plan,
            allocation=PLANS[plan],
            team=html.escape(team),
            cancel=html.escape(f"{self.server.gateway_url}/credits?checkout=cancelled"),
        )
        self._answer(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def do_POST(self) -> None:
        plan = self._plan()
        length = int(self.headers.get("Content-Length") or 0)
        team = parse_qs(self.rfile.read(length).decode()).get("client_reference_id", [""])[0]
        if plan is None or not team:
            self.send_error(400, "no plan or team")
            return
        try:
            self.server.pay(plan, team)
        except httpx.HTTPError as error:
            self.send_error(502, f"the gateway refused the events: {error}")
            return
        self._answer(303, b"", {"Location": f"{self.server.gateway_url}/credits?checkout=success"})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def links(port: int) -> dict[str, str]:
    """GATEWAY_WEB_CHECKOUT_LINKS for a stand-in on this port."""
    return {plan: f"http://127.0.0.1:{port}/pay/{plan}" for plan in PLANS}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m imagegen_devstack.checkout")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--gateway", required=True, help="the gateway's URL, where events go and browsers return"
    )
    args = parser.parse_args()
    CheckoutServer(args.port, args.gateway).serve_forever()


if __name__ == "__main__":
    main()
