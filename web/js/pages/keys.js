// Keys and webhooks: the team's API keys (the secret is shown once), its webhook endpoints (the
// signing secret too), and each endpoint's deliveries with redelivery.

import { api } from "../api.js";
import { badge, confirmDialog, credits, dateTime, errorNotice, field, h, replace, toast } from "../dom.js";

const SCOPES = ["read", "generate", "train", "billing", "admin"];
const EVENTS = ["job.completed", "job.failed", "job.cancelled", "model.ready", "credits.low"];

export async function render(view, { signal }) {
  const keys = h("section", { class: "stack", "aria-labelledby": "keys-heading" });
  const hooks = h("section", { class: "stack", "aria-labelledby": "hooks-heading" });
  replace(view, h("h1", {}, "Keys & webhooks"), keys, hooks);
  await Promise.all([showKeys(keys, signal), showWebhooks(hooks, signal)]);
}

// Shown once, right after creation: the caller copies it now or never.
function secretBox(label, secret) {
  const code = h("code", {}, secret);
  return h("div", { class: "notice", role: "alert" },
    h("p", {}, h("strong", {}, label), " Copy it now: it is not shown again."),
    h("div", { class: "secret" }, code,
      h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(secret).then(() => toast("Copied.")) }, "Copy"),
    ),
  );
}

async function showKeys(section, signal) {
  const list = h("div", { class: "table-wrap", id: "keys" });
  const created = h("div", { "aria-live": "polite", id: "key-created" });
  const name = h("input", { type: "text", id: "key-name", name: "name", required: true, maxlength: 100 });
  const cap = h("input", { type: "number", id: "key-cap", name: "monthlySpendCap", min: 0, step: "0.01", placeholder: "none" });
  const scopes = h("fieldset", {}, h("legend", {}, "Scopes"),
    h("div", { class: "choices" }, SCOPES.map((scope) =>
      h("label", {}, h("input", { type: "checkbox", name: "scope", value: scope, checked: scope === "read" }), scope),
    )),
  );
  const form = h("form", { class: "stack card", id: "create-key" },
    h("div", { class: "row" }, field("Name", name), field("Monthly spend cap (credits)", cap)),
    scopes,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create key")),
  );

  async function load() {
    try {
      const page = await api("/api/keys?limit=100", { signal });
      replace(list, keyTable(page.items, revoke));
    } catch (error) {
      if (error.name !== "AbortError") replace(list, errorNotice(error));
    }
  }
  async function revoke(key) {
    if (!(await confirmDialog(`Revoke “${key.name}” (${key.prefix}…)? It stops working at once.`, "Revoke key"))) return;
    try {
      await api(`/api/keys/${key.id}`, { method: "DELETE" });
      toast(`Revoked ${key.name}.`);
      load();
    } catch (error) {
      toast(error.message, { error: true });
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=scope]:checked")].map((input) => input.value);
    try {
      const body = { name: name.value, scopes: chosen };
      if (cap.value !== "") body.monthlySpendCap = Number(cap.value);
      const key = await api("/api/keys", { method: "POST", body });
      replace(created, secretBox(`Your new key “${key.name}”:`, key.key));
      form.reset();
      load();
    } catch (error) {
      replace(created, errorNotice(error));
    }
  });

  replace(section, h("h2", { id: "keys-heading" }, "API keys"),
    h("p", { class: "muted" }, "Programs call the API with a key: ", h("code", {}, "Authorization: Bearer ig_…"), "."),
    form, created, list);
  await load();
}

function keyTable(keys, revoke) {
  return h("table", {},
    h("caption", { class: "visually-hidden" }, "API keys, newest first"),
    h("thead", {}, h("tr", {},
      h("th", {}, "Name"), h("th", {}, "Key"), h("th", {}, "Scopes"), h("th", { class: "num" }, "Spend cap"),
      h("th", {}, "Created"), h("th", {}, "Last used"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")),
    )),
    h("tbody", {}, keys.length ? keys.map((key) => h("tr", { dataset: { keyId: key.id } },
      h("td", {}, key.name),
      h("td", { class: "mono" }, `${key.prefix}…`),
      h("td", {}, key.scopes.join(", ")),
      h("td", { class: "num" }, key.monthlySpendCap === null ? "—" : credits(key.monthlySpendCap)),
      h("td", {}, dateTime(key.createdAt)),
      h("td", {}, dateTime(key.lastUsedAt)),
      h("td", {}, key.revokedAt
        ? badge("revoked")
        : h("button", { type: "button", class: "danger", onclick: () => revoke(key) }, "Revoke")),
    )) : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No keys yet."))),
  );
}

async function showWebhooks(section, signal) {
  const list = h("div", { class: "stack", id: "webhook-endpoints" });
  const created = h("div", { "aria-live": "polite", id: "webhook-created" });
  const url = h("input", { type: "url", id: "webhook-url", name: "url", required: true, placeholder: "https://example.com/webhooks" });
  const description = h("input", { type: "text", id: "webhook-description", name: "description", maxlength: 500 });
  const events = h("fieldset", {}, h("legend", {}, "Events"),
    h("div", { class: "choices" }, EVENTS.map((event) =>
      h("label", {}, h("input", { type: "checkbox", name: "event", value: event, checked: event.startsWith("job.") }), event),
    )),
  );
  const form = h("form", { class: "stack card", id: "create-webhook" },
    h("div", { class: "row" }, field("Endpoint URL", url), field("Description", description)),
    events,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add endpoint")),
  );

  async function load() {
    try {
      const page = await api("/api/webhook-endpoints?limit=100", { signal });
      replace(list, page.items.length
        ? page.items.map((endpoint) => endpointCard(endpoint, load))
        : h("p", { class: "muted" }, "No endpoints yet."));
    } catch (error) {
      if (error.name !== "AbortError") replace(list, errorNotice(error));
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=event]:checked")].map((input) => input.value);
    try {
      const endpoint = await api("/api/webhook-endpoints", {
        method: "POST",
        body: { url: url.value, description: description.value, events: chosen },
      });
      replace(created, secretBox(`Signing secret of ${endpoint.url}:`, endpoint.secret));
      form.reset();
      load();
    } catch (error) {
      replace(created, errorNotice(error));
    }
  });

  replace(section, h("h2", { id: "hooks-heading" }, "Webhook endpoints"),
    h("p", { class: "muted" }, "We POST signed events (Standard Webhooks) to your URL, retrying until it answers 2xx."),
    form, created, list);
  await load();
}

function endpointCard(endpoint, reload) {
  const deliveries = h("div", { class: "table-wrap", hidden: true });
  const toggle = h("button", { type: "button", "aria-expanded": "false" }, "Show deliveries");

  async function showDeliveries() {
    try {
      const page = await api(`/api/webhook-endpoints/${endpoint.id}/deliveries?limit=20`);
      replace(deliveries, deliveryTable(page.items, redeliver));
    } catch (error) {
      replace(deliveries, errorNotice(error));
    }
  }
  async function redeliver(delivery) {
    try {
      await api(`/api/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}/redeliver`, { method: "POST" });
      toast("Sent again.");
      showDeliveries();
    } catch (error) {
      toast(error.message, { error: true });
    }
  }
  toggle.addEventListener("click", () => {
    const opening = deliveries.hidden;
    deliveries.hidden = !opening;
    toggle.setAttribute("aria-expanded", String(opening));
    toggle.textContent = opening ? "Hide deliveries" : "Show deliveries";
    if (opening) showDeliveries();
  });
  async function change(body, done) {
    try {
      await api(`/api/webhook-endpoints/${endpoint.id}`, { method: body ? "PATCH" : "DELETE", body });
      toast(done);
      reload();
    } catch (error) {
      toast(error.message, { error: true });
    }
  }

  return h("article", { class: "card stack", dataset: { endpointId: endpoint.id } },
    h("div", { class: "page-head" },
      h("h3", { class: "mono" }, endpoint.url),
      badge(endpoint.enabled ? "active" : "paused"),
    ),
    h("p", { class: "muted" }, endpoint.description || "No description", ` · ${endpoint.events.join(", ")} · added ${dateTime(endpoint.createdAt)}`),
    h("div", { class: "actions" },
      toggle,
      h("button", { type: "button", onclick: () => change({ enabled: !endpoint.enabled }, endpoint.enabled ? "Paused." : "Resumed.") },
        endpoint.enabled ? "Pause" : "Resume"),
      h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          if (await confirmDialog(`Delete the endpoint ${endpoint.url} and its delivery log?`, "Delete endpoint")) {
            change(undefined, "Endpoint deleted.");
          }
        },
      }, "Delete"),
    ),
    deliveries,
  );
}

function deliveryTable(deliveries, redeliver) {
  return h("table", {},
    h("caption", { class: "visually-hidden" }, "Deliveries, newest first"),
    h("thead", {}, h("tr", {},
      h("th", {}, "Event"), h("th", {}, "Status"), h("th", {}, "Attempts"), h("th", {}, "Last answer"),
      h("th", {}, "Created"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")),
    )),
    h("tbody", {}, deliveries.length ? deliveries.map((delivery) => {
      const last = delivery.attempts.at(-1);
      return h("tr", {},
        h("td", {}, delivery.eventType),
        h("td", {}, badge(delivery.status)),
        h("td", {}, String(delivery.attempts.length)),
        h("td", {}, last ? (last.statusCode ? `HTTP ${last.statusCode}` : last.error ?? "—") : "—"),
        h("td", {}, dateTime(delivery.createdAt)),
        h("td", {}, h("button", { type: "button", onclick: () => redeliver(delivery) }, "Redeliver")),
      );
    }) : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nothing delivered yet."))),
  );
}
