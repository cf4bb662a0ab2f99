// Models: the team's custom models with their status, and the reference catalog by category.

import { api } from "../api.js";
import { CATEGORIES, byCategory, referenceModels } from "../catalog.js";
import { badge, dateTime, h, replace } from "../dom.js";

export async function render(view, { query, signal }) {
  const [custom, catalog] = await Promise.all([api("/api/models?limit=100", { signal }), referenceModels()]);
  const names = new Map(catalog.map((model) => [model.id, model.name]));
  const catalogGrid = h("div", { class: "stack", id: "catalog" });
  const search = h("input", { type: "search", id: "catalog-search", placeholder: "Search name, description, tags" });
  let category = query.get("category") ?? "";

  const filters = h(
    "div",
    { class: "filters", role: "group", "aria-label": "Category" },
    ["", ...CATEGORIES].map((name) =>
      h(
        "button",
        { type: "button", "aria-pressed": String(name === category), dataset: { category: name } },
        name || "All",
      ),
    ),
  );
  filters.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    category = button.dataset.category;
    for (const each of filters.children) each.setAttribute("aria-pressed", String(each === button));
    showCatalog();
  });
  search.addEventListener("input", showCatalog);

  function showCatalog() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const matching = catalog.filter((model) => {
      const text = `${model.name} ${model.description} ${model.tags.join(" ")}`.toLowerCase();
      return (!category || model.category === category) && words.every((word) => text.includes(word));
    });
    const sections = [...byCategory(matching)]
      .filter(([, models]) => models.length)
      .map(([name, models]) => [
        h("h3", { class: "category" }, name[0].toUpperCase() + name.slice(1)),
        h("div", { class: "grid" }, models.map(referenceCard)),
      ]);
    replace(catalogGrid, sections.length ? sections : h("p", { class: "muted" }, "No reference model matches."));
  }
  showCatalog();

  replace(
    view,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Models"),
      h("a", { href: "/models/new", class: "button primary" }, "Create a model"),
    ),
    h("section", { "aria-labelledby": "custom-heading" },
      h("h2", { id: "custom-heading" }, "Your models"),
      custom.items.length
        ? h("div", { class: "grid", id: "custom-models" }, custom.items.map((model) => customCard(model, names)))
        : h("p", { class: "muted" }, "No custom models yet. Train one on your own images from a reference model."),
    ),
    h("section", { "aria-labelledby": "catalog-heading" },
      h("h2", { id: "catalog-heading" }, "Reference catalog"),
      h("div", { class: "row" }, h("label", { class: "field" }, h("span", {}, "Search the catalog"), search)),
      filters,
      catalogGrid,
    ),
  );
}

function customCard(model, names) {
  const version = model.versions.find((each) => each.version === model.currentVersion);
  return h(
    "article",
    { class: "card model-card" },
    h("div", { class: "body" },
      h("h3", {}, h("a", { href: `/models/${model.id}` }, model.name)),
      h("p", {}, badge(model.status), " ", model.currentVersion ? `version ${model.currentVersion}` : "no ready version yet"),
      h("p", { class: "muted" }, `From ${names.get(model.referenceModelId) ?? `model ${model.referenceModelId}`}`),
      h("p", { class: "muted" }, `Trigger word `, h("code", {}, model.triggerWord)),
      h("p", { class: "muted" }, `Updated ${dateTime(version?.finishedAt ?? model.updatedAt)}`),
    ),
  );
}

function referenceCard(model) {
  return h(
    "article",
    { class: "card model-card" },
    model.previewUrl
      ? h("img", { class: "preview", src: model.previewUrl, alt: `Preview of ${model.name}`, loading: "lazy", width: 400, height: 300 })
      : h("div", { class: "preview", role: "img", "aria-label": "No preview yet" }),
    h("div", { class: "body" },
      h("h3", {}, model.name),
      h("p", { class: "muted" }, model.description),
      h("p", { class: "muted" }, `Complexity ×${model.complexityMultiplier.toFixed(2)}`),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `/generate?reference=${model.id}`, "aria-label": `Generate with ${model.name}` }, "Generate"),
        h("a", { class: "button", href: `/models/new?reference=${model.id}`, "aria-label": `Train a model on ${model.name}` }, "Train on it"),
      ),
    ),
  );
}
