// Generate: the settings and their live quote, the job's queue position and progress as it runs,
// a gallery of results with downloads, and the team's past generations.

import { api, query as toQuery } from "../api.js";
import { byCategory, referenceModels } from "../catalog.js";
import { badge, credits, dateTime, debounce, errorNotice, field, h, percent, replace, toast } from "../dom.js";
import { TERMINAL, followJob } from "../jobs.js";
import { estimate, latestOnly, showQuote } from "../quote.js";
import { refreshBalance } from "../session.js";

const RESOLUTIONS = ["512x512", "768x768", "1024x576", "576x1024", "1024x768", "768x1024", "1024x1024"];
const QUOTE_DELAY_MILLISECONDS = 300;

export async function render(view, { query, signal }) {
  const [catalog, custom] = await Promise.all([
    referenceModels(),
    api("/api/models?status=ready&limit=100", { signal }),
  ]);
  const names = new Map(catalog.map((model) => [`reference:${model.id}`, model.name]));
  for (const model of custom.items) names.set(`custom:${model.id}`, model.name);
  const chosen = query.get("custom") ? `custom:${query.get("custom")}` : `reference:${query.get("reference") ?? catalog[0]?.id}`;

  const model = h("select", { id: "model", name: "model" },
    custom.items.length > 0 && h("optgroup", { label: "Your models" }, custom.items.map((each) =>
      h("option", { value: `custom:${each.id}`, selected: chosen === `custom:${each.id}` }, each.name),
    )),
    [...byCategory(catalog)].map(([category, models]) =>
      h("optgroup", { label: category }, models.map((each) =>
        h("option", { value: `reference:${each.id}`, selected: chosen === `reference:${each.id}` }, each.name),
      )),
    ),
  );
  const version = h("select", { id: "model-version", name: "modelVersion" });
  const versionField = field("Version", version);
  const prompt = h("textarea", { id: "prompt", name: "prompt", required: true, maxlength: 2000, placeholder: "woman in red dress standing in park" });
  const resolution = h("select", { id: "resolution", name: "resolution" },
    RESOLUTIONS.map((value) => h("option", { value, selected: value === "1024x1024" }, value.replace("x", " × "))),
  );
  const quality = h("fieldset", {}, h("legend", {}, "Quality"),
    h("div", { class: "choices" },
      ["standard", "hd"].map((value) => h("label", {},
        h("input", { type: "radio", name: "quality", value, checked: value === "standard" }), value === "hd" ? "HD" : "Standard",
      )),
    ),
  );
  const count = h("select", { id: "num-images", name: "numImages" }, [1, 2, 3, 4].map((n) => h("option", { value: n }, String(n))));
  const seed = h("input", { type: "number", id: "seed", name: "seed", min: 0, max: 4294967295, placeholder: "random" });
  const quoteBox = h("div", { "aria-live": "polite", id: "quote" });
  const formError = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Generate");
  const current = h("section", { id: "current-job", "aria-live": "polite", "aria-labelledby": "current-heading" },
    h("h2", { id: "current-heading" }, "Results"),
    h("p", { class: "muted" }, "Your images appear here."),
  );
  const history = h("div", { class: "table-wrap", id: "past-jobs" });

  // The model part of a request or estimate body.
  function modelFields() {
    const [kind, id] = model.value.split(":");
    if (kind === "reference") return { referenceModelId: Number(id) };
    return { customModelId: Number(id), ...(version.value ? { modelVersion: Number(version.value) } : {}) };
  }
  function settings() {
    return {
      ...modelFields(),
      resolution: resolution.value,
      quality: view.querySelector("input[name=quality]:checked").value,
      numImages: Number(count.value),
    };
  }

  function showVersions() {
    const [kind, id] = model.value.split(":");
    const chosenModel = custom.items.find((each) => kind === "custom" && each.id === Number(id));
    versionField.hidden = !chosenModel;
    if (!chosenModel) return;
    replace(version,
      h("option", { value: "" }, `Current (v${chosenModel.currentVersion})`),
      chosenModel.versions.filter((each) => each.status === "ready").map((each) => h("option", { value: each.version }, `v${each.version}`)),
    );
  }

  const quoteFor = latestOnly((body, quoteSignal) => estimate({ operation: "image_generation", ...body }, quoteSignal));
  const updateQuote = debounce(async () => {
    const { value, error, current: latest } = await quoteFor(settings());
    if (!latest) return;
    if (error) return replace(quoteBox, errorNotice(error));
    showQuote(quoteBox, value);
    submit.textContent = `Generate · ${credits(value.credits)} credits`;
  }, QUOTE_DELAY_MILLISECONDS);

  const form = h("form", { class: "stack card", id: "generate-form" },
    field("Model", model),
    versionField,
    field("Prompt", prompt),
    h("div", { class: "row" }, field("Resolution", resolution), field("Images", count)),
    quality,
    field("Seed", seed, "The same seed and settings give the same images."),
    quoteBox,
    formError,
    submit,
  );
  form.addEventListener("change", (event) => {
    if (event.target === model) showVersions();
    updateQuote();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(formError);
    try {
      const body = { ...settings(), prompt: prompt.value };
      if (seed.value !== "") body.seed = Number(seed.value);
      const { job } = await api("/api/generate", {
        method: "POST",
        headers: { "Idempotency-Key": crypto.randomUUID() },
        body,
      });
      refreshBalance();
      showJob(job);
      followJob(job.id, (update) => {
        showJob(update);
        if (TERMINAL.includes(update.status)) {
          refreshBalance(); // the charge settled, or the refund came back
          loadHistory();
        }
      }, signal);
    } catch (error) {
      replace(formError, errorNotice(error));
    }
    submit.disabled = false;
  });

  function showJob(job) {
    replace(current, h("h2", { id: "current-heading" }, "Results"), jobPanel(job, names));
  }

  async function loadHistory(cursor) {
    const page = await api(`/api/jobs${toQuery({ type: "image_generation", limit: 10, cursor })}`, { signal });
    const rows = page.items.map((job) => historyRow(job, names, showJob));
    if (cursor) history.querySelector("tbody").append(...rows);
    else replace(history, historyTable(rows));
    document.getElementById("more-jobs")?.remove();
    if (page.nextCursor) {
      history.after(h("button", { type: "button", id: "more-jobs", onclick: () => loadHistory(page.nextCursor) }, "Show more"));
    }
  }

  replace(view,
    h("h1", {}, "Generate"),
    h("div", { class: "generate" }, form, current),
    h("h2", {}, "Past generations"),
    history,
  );
  showVersions();
  updateQuote();
  await loadHistory();
}

function jobPanel(job, names) {
  const images = job.result?.images ?? [];
  return h("div", { class: "stack", dataset: { jobId: job.id, status: job.status } },
    h("p", {}, badge(job.status), " ", job.input.prompt),
    job.status === "queued" && h("p", { id: "queue-position" },
      job.queuePosition ? `Position ${job.queuePosition} in the queue` : "Queued",
      job.estimatedStartAt ? `, starting about ${dateTime(job.estimatedStartAt)}` : "",
    ),
    job.status === "running" && h("div", {},
      h("progress", { max: 1, value: job.progress, "aria-label": "Generation progress" }),
      h("span", { class: "muted" }, ` ${percent(job.progress)}`),
    ),
    job.status === "failed" && h("p", { class: "notice error" }, `${job.error?.message ?? "The job failed"}. Refunded ${credits(job.refundedCredits)} credits.`),
    h("p", { class: "muted" },
      `${nameOf(job, names)} · ${job.input.resolution} · ${job.input.quality} · quoted ${credits(job.estimatedCredits)}`,
      job.status === "completed" ? ` · charged ${credits(job.chargedCredits)}` : "",
    ),
    images.length > 0 && h("div", { class: "gallery" }, images.map((image, index) => galleryItem(image, index, job))),
  );
}

function galleryItem(image, index, job) {
  const label = `Image ${index + 1} of “${job.input.prompt}”`;
  if (image.status !== "available") {
    return h("figure", {}, h("figcaption", {}, `${label}: ${image.status}`));
  }
  return h("figure", {},
    h("img", { src: image.url, alt: label, width: image.width, height: image.height, loading: "lazy" }),
    h("figcaption", {},
      h("span", {}, `${image.width} × ${image.height}`),
      h("a", {
        href: `/api/images/${image.id}/content`,
        download: `imagegen-${image.id}.png`,
        "aria-label": `Download ${label}`,
        onclick: (event) => {
          event.preventDefault();
          saveImage(image);
        },
      }, "Download"),
    ),
  );
}

// Browsers ignore `download` on a link that redirects to another origin (the bucket), so the file
// is fetched (following /content's redirect to a fresh signed URL) and saved from memory.
async function saveImage(image) {
  try {
    const response = await fetch(`/api/images/${image.id}/content`);
    if (!response.ok) throw new Error(response.status === 410 ? "this image has expired" : `download failed (${response.status})`);
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `imagegen-${image.id}.png` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (error) {
    toast(error.message, { error: true });
  }
}

function nameOf(job, names) {
  const key = job.input.customModelId ? `custom:${job.input.customModelId}` : `reference:${job.input.referenceModelId}`;
  const version = job.input.customModelId && job.input.modelVersion ? ` v${job.input.modelVersion}` : "";
  return (names.get(key) ?? key) + version;
}

function historyTable(rows) {
  return h("table", {},
    h("caption", { class: "visually-hidden" }, "Past generations, newest first"),
    h("thead", {}, h("tr", {},
      h("th", {}, "Created"), h("th", {}, "Prompt"), h("th", {}, "Status"),
      h("th", { class: "num hide-narrow" }, "Quoted"), h("th", { class: "num" }, "Charged"), h("th", { class: "num hide-narrow" }, "Refunded"),
      h("th", {}, "Images"),
    )),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No generations yet."))),
  );
}

function historyRow(job, names, showJob) {
  const images = (job.result?.images ?? []).filter((image) => image.status === "available");
  return h("tr", { dataset: { jobId: job.id } },
    h("td", {}, dateTime(job.createdAt)),
    h("td", {}, job.input.prompt, h("div", { class: "muted" }, nameOf(job, names))),
    h("td", {}, badge(job.status)),
    h("td", { class: "num hide-narrow" }, credits(job.estimatedCredits)),
    h("td", { class: "num" }, credits(job.chargedCredits)),
    h("td", { class: "num hide-narrow" }, credits(job.refundedCredits)),
    h("td", {}, images.length
      ? h("button", { type: "button", class: "link-button", onclick: () => showJob(job) }, `Show ${images.length}`)
      : "—"),
  );
}
