// Credits: the balance, usage over time, every movement (filtered, exported as CSV), and the plan,
// upgraded through Stripe's hosted Checkout.

import { api, listAll, query as toQuery } from "../api.js";
import { usageChart } from "../chart.js";
import { credits, date, dateTime, errorNotice, h, replace, toast } from "../dom.js";
import { currentTeam, refreshBalance, state } from "../session.js";

const TYPES = ["allocation", "bonus", "reserve", "capture", "release", "expiry", "adjustment"];
const PLANS = [
  { name: "free", credits: 0, jobs: 0 },
  { name: "basic", credits: 500, jobs: 1 },
  { name: "pro", credits: 2000, jobs: 3 },
  { name: "enterprise", credits: 10000, jobs: 10 },
];
const CHART_DAYS = 30;
const DAY = 86400 * 1000;
const config = JSON.parse(document.getElementById("config").textContent || "{}");

export async function render(view, { query, signal }) {
  const balance = await refreshBalance();
  const stats = h("div", { class: "stats", id: "balance-stats" });
  const chart = h("div", { class: "card", id: "usage" }, h("p", { class: "loading" }, "Loading usage…"));
  const plans = h("div", { class: "grid", id: "plans" });
  const notice = h("div", { "aria-live": "polite" });

  function showBalance(current) {
    replace(stats, [
      stat("Available", `${credits(current.availableCredits)}`, "credits"),
      stat("Reserved", credits(current.reservedCredits), "for jobs in flight"),
      stat("Bonus", credits(current.bonusCredits), "never expire"),
      stat("Allocated", credits(current.totalAllocated), `this period, since ${date(current.periodStart)}`),
      stat("Next replenishment", date(current.nextReplenishmentAt), `plan ${current.plan}, ${current.maxConcurrentJobs} jobs at once`),
    ]);
    replace(plans, PLANS.map((plan) => planCard(plan, current)));
  }
  if (balance) showBalance(balance);

  // Back from Checkout: the plan changes once Stripe's events are processed, within seconds.
  if (query.get("checkout") === "success") {
    replace(notice, h("p", { class: "notice" }, "Payment received. Your plan updates in a few seconds."));
    waitForPlanChange(balance?.plan, signal).then((updated) => {
      if (!updated) return;
      showBalance(updated);
      replace(notice, h("p", { class: "notice" }, `You are on the ${updated.plan} plan.`));
    });
  } else if (query.get("checkout") === "cancelled") {
    replace(notice, h("p", { class: "notice warn" }, "Checkout cancelled; nothing was charged."));
  }

  replace(view,
    h("h1", {}, "Credits"),
    notice,
    stats,
    h("h2", {}, "Usage"),
    chart,
    h("h2", {}, "History"),
    historySection(signal),
    h("h2", {}, "Plan"),
    plans,
  );
  showUsage(chart, signal);
}

function stat(label, value, hint) {
  return h("div", { class: "card stat" },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
    h("div", { class: "hint" }, hint),
  );
}

async function showUsage(element, signal) {
  const since = new Date(Date.now() - (CHART_DAYS - 1) * DAY);
  since.setUTCHours(0, 0, 0, 0);
  try {
    const captures = await listAll("/api/credits/history", { type: "capture", since: since.toISOString() }, 5);
    if (signal.aborted) return;
    const days = Array.from({ length: CHART_DAYS }, (_, index) => ({
      day: new Date(since.getTime() + index * DAY).toISOString().slice(0, 10),
      credits: 0,
    }));
    const byDay = new Map(days.map((each) => [each.day, each]));
    for (const entry of captures) {
      const day = byDay.get(entry.createdAt.slice(0, 10));
      if (day) day.credits += Math.abs(entry.credits);
    }
    replace(element, usageChart(days, `Credits spent per day, last ${CHART_DAYS} days`));
  } catch (error) {
    replace(element, errorNotice(error));
  }
}

function historySection(signal) {
  const types = h("fieldset", {}, h("legend", {}, "Types"),
    h("div", { class: "choices" }, TYPES.map((type) =>
      h("label", {}, h("input", { type: "checkbox", name: "type", value: type }), type),
    )),
  );
  const since = h("input", { type: "date", id: "history-since", name: "since" });
  const until = h("input", { type: "date", id: "history-until", name: "until" });
  const table = h("div", { class: "table-wrap", id: "history" });
  const more = h("div");
  const filters = h("form", { class: "stack card", id: "history-filters" },
    types,
    h("div", { class: "row" },
      h("label", { class: "field" }, h("span", {}, "From"), since),
      h("label", { class: "field" }, h("span", {}, "Until"), until),
    ),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", id: "export-csv", onclick: exportCsv }, "Export CSV"),
    ),
  );

  function params() {
    const chosen = [...filters.querySelectorAll("input[name=type]:checked")].map((input) => input.value);
    return {
      type: chosen.join(","),
      since: since.value ? `${since.value}T00:00:00Z` : "",
      // The whole of the last day chosen.
      until: until.value ? new Date(Date.parse(`${until.value}T00:00:00Z`) + DAY).toISOString() : "",
    };
  }

  async function load(cursor) {
    try {
      const page = await api(`/api/credits/history${toQuery({ ...params(), limit: 25, cursor })}`, { signal });
      const rows = page.items.map(historyRow);
      if (cursor) table.querySelector("tbody").append(...rows);
      else replace(table, historyTable(rows));
      replace(more, page.nextCursor && h("button", { type: "button", onclick: () => load(page.nextCursor) }, "Show more"));
    } catch (error) {
      if (error.name !== "AbortError") replace(table, errorNotice(error));
    }
  }

  async function exportCsv() {
    try {
      const response = await fetch(`/api/credits/history${toQuery(params())}`, { headers: { Accept: "text/csv" } });
      if (!response.ok) throw new Error(`export failed (${response.status})`);
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "credit-history.csv" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    } catch (error) {
      toast(error.message, { error: true });
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  load();
  return [filters, table, more];
}

function historyTable(rows) {
  return h("table", {},
    h("caption", { class: "visually-hidden" }, "Credit movements, newest first"),
    h("thead", {}, h("tr", {},
      h("th", {}, "When"), h("th", {}, "Type"), h("th", { class: "num" }, "Credits"),
      h("th", { class: "num" }, "Available after"), h("th", { class: "num hide-narrow" }, "Reserved after"),
      h("th", { class: "hide-narrow" }, "Reference"),
    )),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nothing yet."))),
  );
}

function historyRow(entry) {
  return h("tr", { dataset: { type: entry.type } },
    h("td", {}, dateTime(entry.createdAt)),
    h("td", {}, entry.type, entry.description && h("div", { class: "muted" }, entry.description)),
    h("td", { class: "num" }, credits(entry.credits)),
    h("td", { class: "num" }, credits(entry.availableAfter)),
    h("td", { class: "num hide-narrow" }, credits(entry.reservedAfter)),
    h("td", { class: "hide-narrow mono" }, entry.reference),
  );
}

function planCard(plan, balance) {
  const link = config.checkoutLinks?.[plan.name];
  const isCurrent = plan.name === balance.plan;
  const rank = (name) => PLANS.findIndex((each) => each.name === name);
  let action = null;
  if (isCurrent) action = h("span", { class: "badge active" }, "Current plan");
  else if (rank(plan.name) > rank(balance.plan) && link) {
    const url = new URL(link);
    url.searchParams.set("client_reference_id", currentTeam().id);
    url.searchParams.set("prefilled_email", state.session.user.email);
    action = h("a", { class: "button primary", href: url.href, "aria-label": `Upgrade to ${plan.name}` }, "Upgrade");
  }
  return h("article", { class: "card stack", dataset: { plan: plan.name } },
    h("h3", {}, plan.name[0].toUpperCase() + plan.name.slice(1)),
    h("p", {}, `${credits(plan.credits)} credits a month`, h("br"), `${plan.jobs} ${plan.jobs === 1 ? "job" : "jobs"} at once`),
    action,
  );
}

async function waitForPlanChange(plan, signal, attempts = 30) {
  for (let attempt = 0; attempt < attempts && !signal.aborted; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const balance = await refreshBalance();
    if (balance && balance.plan !== plan) return balance;
  }
  return null;
}
