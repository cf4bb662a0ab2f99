// Training images: a drop zone (or file picker), each file uploaded at once straight to the
// bucket through a presigned PUT, with its own progress bar, and room for the dataset check's
// findings about it.

import { api } from "./api.js";
import { h, replace } from "./dom.js";

const ACCEPTED = ["image/png", "image/jpeg", "image/webp"];

// PUT the file to the presigned URL with the headers it was signed with, reporting progress (0-1).
function put(ticket, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(ticket.method, ticket.uploadUrl);
    for (const [name, value] of Object.entries(ticket.headers)) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () =>
      request.status < 300 ? resolve() : reject(new Error(`the bucket answered ${request.status}`)),
    );
    request.addEventListener("error", () => reject(new Error("the upload failed (network)")));
    request.send(file);
  });
}

// onChange() runs whenever the set of uploaded images changes.
export function createUploader({ label = "Training images", onChange }) {
  const entries = [];
  const input = h("input", { type: "file", id: "training-files", multiple: true, accept: ACCEPTED.join(",") });
  const list = h("ul", { class: "files", "aria-label": "Selected images" });
  const zone = h(
    "label",
    { class: "dropzone" },
    input,
    h("strong", {}, "Drop images here"),
    h("span", { class: "muted" }, " or choose files"),
    h("div", { class: "hint" }, "PNG, JPEG or WebP, at least 512 px on the short side; 3 to 50 images."),
  );
  input.addEventListener("change", () => {
    add([...input.files]);
    input.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    add([...event.dataTransfer.files]);
  });

  function add(files) {
    for (const file of files) {
      const entry = { file, uploadId: null, status: "uploading", problem: null, preview: URL.createObjectURL(file) };
      entry.progress = h("progress", { max: 1, value: 0, "aria-label": `Upload of ${file.name}` });
      entry.statusText = h("span", { class: "muted" }, "uploading…");
      entry.problemText = h("div", { class: "problem", role: "alert" });
      entry.row = h(
        "li",
        { class: "file" },
        h("img", { src: entry.preview, alt: "" }),
        h("div", {}, h("div", {}, file.name), entry.progress),
        h("div", {}, entry.statusText, " ",
          h("button", { type: "button", class: "link-button", "aria-label": `Remove ${file.name}`, onclick: () => remove(entry) }, "Remove"),
        ),
        entry.problemText,
      );
      entries.push(entry);
      list.append(entry.row);
      upload(entry);
    }
  }

  async function upload(entry) {
    const { file } = entry;
    try {
      if (!ACCEPTED.includes(file.type)) throw new Error("not a PNG, JPEG or WebP image");
      const ticket = await api("/api/uploads", {
        method: "POST",
        body: { contentType: file.type, sizeBytes: file.size, filename: file.name.slice(0, 255) },
      });
      await put(ticket, file, (fraction) => (entry.progress.value = fraction));
      entry.uploadId = ticket.id;
      entry.status = "uploaded";
      entry.progress.value = 1;
      entry.statusText.textContent = "uploaded";
    } catch (error) {
      entry.status = "failed";
      entry.statusText.textContent = "failed";
      setProblem(entry, error.message);
    }
    if (entries.includes(entry)) onChange();
  }

  function remove(entry) {
    entries.splice(entries.indexOf(entry), 1);
    entry.row.remove();
    URL.revokeObjectURL(entry.preview);
    onChange();
  }

  function setProblem(entry, problem) {
    entry.problem = problem;
    entry.row.classList.toggle("invalid", Boolean(problem));
    replace(entry.problemText, problem ?? "");
  }

  return {
    element: h("div", { class: "stack" }, h("span", { class: "field-label" }, label), zone, list),
    // Upload ids of the images ready to train on, in the order shown.
    uploaded: () => entries.filter((entry) => entry.status === "uploaded"),
    busy: () => entries.some((entry) => entry.status === "uploading"),
    // The dataset check's findings for the images sent, by their position in what was sent.
    showProblems(sent, problems) {
      for (const entry of entries) if (entry.status === "uploaded") setProblem(entry, null);
      sent.forEach((entry, index) => {
        const problem = problems[`trainingImages[${index}]`];
        if (problem) setProblem(entry, problem);
      });
    },
  };
}
