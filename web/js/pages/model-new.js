// Create a model: a reference model, training images uploaded by drag and drop, the quote, then
// training. The dataset check runs when the model is created; its findings show beside each image.

import { api } from "../api.js";
import { byCategory, referenceModels } from "../catalog.js";
import { credits, errorNotice, field, h, replace, toast } from "../dom.js";
import { estimate, latestOnly, showQuote } from "../quote.js";
import { refreshBalance } from "../session.js";
import { createUploader } from "../upload.js";

export async function render(view, { query, navigate }) {
  const catalog = await referenceModels();
  const chosen = Number(query.get("reference")) || null;
  const reference = h(
    "select",
    { id: "reference-model", name: "referenceModelId", required: true },
    h("option", { value: "" }, "Choose a reference model"),
    [...byCategory(catalog)].map(([category, models]) =>
      h("optgroup", { label: category }, models.map((model) =>
        h("option", { value: model.id, selected: model.id === chosen }, `${model.name} (×${model.complexityMultiplier.toFixed(2)})`),
      )),
    ),
  );
  const name = h("input", { type: "text", id: "model-name", name: "name", required: true, maxlength: 1000 });
  const trigger = h("input", { type: "text", id: "trigger-word", name: "triggerWord", required: true, maxlength: 1000, autocomplete: "off" });
  const description = h("textarea", { id: "model-description", name: "description", maxlength: 5000 });
  const steps = h("input", { type: "number", id: "training-steps", name: "trainingSteps", min: 1, max: 100000, value: 1000 });
  const quoteBox = h("div", { "aria-live": "polite", id: "quote" }, h("span", { class: "muted" }, "Add images to see the quote."));
  const findings = h("div", { "aria-live": "polite", id: "findings" });
  const submit = h("button", { type: "submit", class: "primary", disabled: true }, "Start training");
  let quote = null;

  const quoteFor = latestOnly((ids, signal) =>
    estimate({ operation: "model_creation", referenceModelId: Number(reference.value), trainingImages: ids }, signal),
  );
  async function update() {
    const images = uploader.uploaded();
    quote = null;
    submit.disabled = true;
    submit.textContent = "Start training";
    if (!reference.value || !images.length) {
      replace(quoteBox, h("span", { class: "muted" }, reference.value ? "Add images to see the quote." : "Choose a reference model."));
      return;
    }
    const { value, error, current } = await quoteFor(images.map((entry) => entry.uploadId));
    if (!current) return;
    if (error) return replace(quoteBox, errorNotice(error));
    quote = value;
    showQuote(quoteBox, quote);
    submit.disabled = uploader.busy();
    submit.textContent = `Pay ${credits(quote.credits)} credits and start training`;
  }
  const uploader = createUploader({ onChange: update });
  reference.addEventListener("change", update);

  const form = h(
    "form",
    { class: "stack card", id: "create-model" },
    field("Reference model", reference, "What your model starts from; its complexity scales the price."),
    h("div", { class: "row" },
      field("Name", name),
      field("Trigger word", trigger, "Put it in prompts to call up what you trained."),
    ),
    field("Description", description),
    field("Training steps", steps),
    uploader.element,
    quoteBox,
    findings,
    h("div", { class: "actions" }, submit, h("span", { class: "hint" }, "The training set is checked before anything is charged.")),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const sent = uploader.uploaded();
    submit.disabled = true;
    replace(findings, h("p", { class: "muted" }, "Checking the training set…"));
    try {
      const created = await api("/api/models", {
        method: "POST",
        headers: { "Idempotency-Key": crypto.randomUUID() },
        body: {
          referenceModelId: Number(reference.value),
          name: name.value,
          description: description.value,
          triggerWord: trigger.value,
          trainingSteps: Number(steps.value),
          trainingImages: sent.map((entry) => entry.uploadId),
        },
      });
      toast(`Training started: ${credits(created.job.estimatedCredits)} credits reserved.`);
      refreshBalance();
      navigate(`/models/${created.customModel.id}`);
    } catch (error) {
      submit.disabled = false;
      if (error.code !== "invalid_training_set") return replace(findings, errorNotice(error));
      uploader.showProblems(sent, error.details);
      replace(
        findings,
        h("div", { class: "notice error", role: "alert" },
          h("p", {}, `${error.message}.`),
          error.details.trainingImages && h("p", {}, error.details.trainingImages),
          h("p", {}, "Fix or remove the images marked below, then try again."),
        ),
      );
    }
  });

  replace(view, h("h1", {}, "Create a model"), form);
  update();
}
