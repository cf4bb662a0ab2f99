// One custom model: its versions with parameters and cost, live training progress, refinement
// into a new version, choosing the current version, and deletion.

import { api } from "../api.js";
import { referenceModels } from "../catalog.js";
import { badge, confirmDialog, credits, dateTime, errorNotice, field, h, percent, replace, toast } from "../dom.js";
import { estimate, showQuote } from "../quote.js";
import { refreshBalance } from "../session.js";
import { createUploader } from "../upload.js";

const POLL_MILLISECONDS = 1500;
const IN_FLIGHT = ["pending", "training"];

export async function render(view, { params, signal, navigate }) {
  const id = Number(params[0]);
  const catalog = await referenceModels();
  const head = h("div", { class: "page-head" });
  const summary = h("div");
  const versions = h("div", { class: "table-wrap" });
  const refine = h("section", { "aria-labelledby": "refine-heading" });
  let model = await api(`/api/models/${id}`, { signal });
  let timer = null;
  signal.addEventListener("abort", () => clearTimeout(timer));

  async function poll() {
    try {
      model = await api(`/api/models/${id}`, { signal });
    } catch (error) {
      if (error.name === "AbortError") return;
    }
    if (!show()) {
      // Training ended: the charge settled, and the refinement's quote can count the new version.
      refreshBalance();
      showRefine();
    }
  }

  // Renders the model; returns whether a version is still training (and keeps polling while so).
  function show() {
    const reference = catalog.find((each) => each.id === model.referenceModelId);
    document.title = `${model.name} · imagegen`;
    replace(
      head,
      h("h1", {}, model.name, " ", badge(model.status)),
      h("div", { class: "actions" },
        model.currentVersion && h("a", { class: "button primary", href: `/generate?custom=${model.id}` }, "Generate with it"),
        h("button", { type: "button", class: "danger", onclick: remove }, "Delete model"),
      ),
    );
    replace(
      summary,
      h("p", { class: "muted" },
        `From ${reference?.name ?? `reference model ${model.referenceModelId}`} · trigger word `,
        h("code", {}, model.triggerWord),
        ` · current version ${model.currentVersion ?? "none yet"} · created ${dateTime(model.createdAt)}`,
      ),
      model.description && h("p", {}, model.description),
    );
    replace(versions, versionTable(model, setCurrent));
    const training = model.versions.some((version) => IN_FLIGHT.includes(version.status));
    clearTimeout(timer);
    if (training && !signal.aborted) timer = setTimeout(poll, POLL_MILLISECONDS);
    return training;
  }

  async function setCurrent(version) {
    try {
      model = await api(`/api/models/${id}`, { method: "PATCH", body: { currentVersion: version } });
      toast(`Version ${version} is now current.`);
      show();
    } catch (error) {
      toast(error.message, { error: true });
    }
  }

  async function remove() {
    const confirmed = await confirmDialog(
      `Delete “${model.name}”? Trainings in flight are cancelled and refunded; its files are removed.`,
      "Delete model",
    );
    if (!confirmed) return;
    try {
      await api(`/api/models/${id}`, { method: "DELETE" });
      toast(`Deleted ${model.name}.`);
      refreshBalance();
      navigate("/models");
    } catch (error) {
      toast(error.message, { error: true });
    }
  }

  function showRefine() {
    replace(refine, refineForm(model, (created) => {
      model = created.customModel;
      toast(`Refinement started: ${credits(created.job.estimatedCredits)} credits reserved.`);
      refreshBalance();
      show();
    }));
  }

  show();
  showRefine();
  replace(view, head, summary, h("h2", {}, "Versions"), versions, refine);
}

function versionTable(model, setCurrent) {
  return h("table", {},
    h("caption", { class: "visually-hidden" }, "Versions of the model"),
    h("thead", {}, h("tr", {},
      h("th", {}, "Version"), h("th", {}, "Status"), h("th", {}, "Parameters"),
      h("th", { class: "num" }, "Quoted"), h("th", { class: "num" }, "Charged"),
      h("th", {}, "Trained"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")),
    )),
    h("tbody", {}, [...model.versions].reverse().map((version) => {
      const training = IN_FLIGHT.includes(version.status);
      return h("tr", { dataset: { version: version.version } },
        h("td", {}, `v${version.version} `, version.version === model.currentVersion && h("span", { class: "badge" }, "current")),
        h("td", {},
          badge(version.status),
          training && h("div", {},
            h("progress", { max: 1, value: version.progress, "aria-label": `Training progress of version ${version.version}` }),
            h("span", { class: "muted" }, ` ${percent(version.progress)}`),
          ),
          version.failureReason && h("div", { class: "error-text" }, version.failureReason),
        ),
        h("td", {},
          `${version.trainingSteps} steps · ${version.trainingImageIds.length} images`,
          version.parentVersion && h("div", { class: "muted" }, `refines v${version.parentVersion}${version.startedFromParentWeights ? " (from its weights)" : ""}`),
        ),
        h("td", { class: "num" }, credits(version.estimatedCredits)),
        h("td", { class: "num" }, credits(version.chargedCredits)),
        h("td", {}, dateTime(version.finishedAt)),
        h("td", {},
          version.status === "ready" && version.version !== model.currentVersion &&
            h("button", { type: "button", onclick: () => setCurrent(version.version) }, `Make v${version.version} current`),
        ),
      );
    })),
  );
}

function refineForm(model, onStarted) {
  const steps = h("input", { type: "number", id: "refine-steps", min: 1, max: 100000, placeholder: "same as now" });
  const quoteBox = h("div", { "aria-live": "polite" });
  const findings = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Refine");
  const uploader = createUploader({ label: "New images (optional)", onChange: () => (submit.disabled = uploader.busy()) });
  estimate({ operation: "model_refinement", customModelId: model.id })
    .then((quote) => {
      showQuote(quoteBox, quote);
      submit.textContent = `Pay ${credits(quote.credits)} credits and refine`;
    })
    .catch((error) => replace(quoteBox, errorNotice(error)));

  const form = h("form", { class: "stack card", id: "refine" },
    h("p", { class: "muted" }, "Trains the next version on the current version's images plus any you add."),
    uploader.element,
    field("Training steps", steps),
    quoteBox,
    findings,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const sent = uploader.uploaded();
    submit.disabled = true;
    replace(findings);
    try {
      const body = { trainingImages: sent.map((entry) => entry.uploadId) };
      if (steps.value) body.trainingSteps = Number(steps.value);
      const created = await api(`/api/models/${model.id}/refine`, {
        method: "POST",
        headers: { "Idempotency-Key": crypto.randomUUID() },
        body,
      });
      onStarted(created);
    } catch (error) {
      if (error.code === "invalid_training_set") uploader.showProblems(sent, error.details);
      replace(findings, errorNotice(error));
    }
    submit.disabled = false;
  });
  return [h("h2", { id: "refine-heading" }, "Refine"), form];
}
