// Quotes: what an operation would cost now (POST /api/credits/estimate), shown before paying.

import { api } from "./api.js";
import { credits, h, replace } from "./dom.js";

// "referenceComplexity" -> "reference complexity"
const words = (name) => name.replace(/([A-Z])/g, " $1").toLowerCase();

export async function estimate(body, signal) {
  return api("/api/credits/estimate", { method: "POST", body, signal });
}

// Fills `element` with the quote, or with why there is none.
export function showQuote(element, quote) {
  replace(
    element,
    h("div", { class: "quote" },
      h("span", {}, "Quote"),
      h("strong", { id: "quote-credits" }, `${credits(quote.credits)} credits`),
      h("span", { class: "muted" }, Object.entries(quote.breakdown).map(([name, value]) => `${words(name)} ${value}`).join(" · ")),
    ),
  );
}

// Runs `request` for the latest settings only: an older answer arriving late never overwrites a newer one.
export function latestOnly(request) {
  let controller = null;
  return async (...args) => {
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    try {
      return { value: await request(...args, mine.signal), current: mine === controller };
    } catch (error) {
      if (error.name === "AbortError") return { current: false };
      return { error, current: mine === controller };
    }
  };
}
