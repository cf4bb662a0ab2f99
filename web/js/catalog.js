// The reference catalog (50 models), read once and kept for a few minutes: several pages name
// its models, and its preview URLs are signed for a limited time.

import { listAll } from "./api.js";

export const CATEGORIES = ["fashion", "fitness", "beauty", "lifestyle", "business"];
const KEEP_MILLISECONDS = 5 * 60 * 1000;
let cached = null;

export function referenceModels() {
  if (!cached || Date.now() - cached.at > KEEP_MILLISECONDS) {
    cached = { at: Date.now(), models: listAll("/api/reference-models") };
    cached.models.catch(() => (cached = null));
  }
  return cached.models;
}

// Models grouped by category, in the catalog's order.
export function byCategory(models) {
  const groups = new Map(CATEGORIES.map((category) => [category, []]));
  for (const model of models) {
    if (!groups.has(model.category)) groups.set(model.category, []);
    groups.get(model.category).push(model);
  }
  return groups;
}
