// Small DOM helpers shared by every page: building elements, formatting, messages.

// h("a", {href: "/x", class: "button"}, "text", child): an element. Attributes starting with "on"
// are listeners; true/false toggle boolean attributes; children may be strings, nodes, arrays or null.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  element.append(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
}

const creditsFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const credits = (value) => creditsFormat.format(value ?? 0);

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
export const dateTime = (value) => (value ? dateTimeFormat.format(new Date(value)) : "—");
export const date = (value) => (value ? dateFormat.format(new Date(value)) : "—");

export function percent(fraction) {
  return `${Math.round((fraction ?? 0) * 100)}%`;
}

export function badge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

export function debounce(fn, milliseconds) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), milliseconds);
  };
}

export function toast(message, { error = false } = {}) {
  const item = h("div", { class: error ? "toast error" : "toast" }, message);
  document.getElementById("toasts").append(item);
  setTimeout(() => item.remove(), 6000);
}

// A message for an ApiError, naming the fields it lists.
export function errorMessage(error) {
  const details = Object.entries(error.details ?? {})
    .filter(([, value]) => typeof value === "string")
    .map(([field, value]) => `${field}: ${value}`);
  return details.length ? `${error.message} (${details.join("; ")})` : error.message;
}

export function errorNotice(error) {
  return h("p", { class: "notice error", role: "alert" }, errorMessage(error));
}

// Resolves true when the person confirms; a native <dialog>, so focus and Escape behave.
export function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { "aria-label": confirmLabel },
      h("form", { method: "dialog", class: "stack" },
        h("p", {}, message),
        h("div", { class: "actions" },
          h("button", { value: "cancel", autofocus: true }, "Cancel"),
          h("button", { value: "confirm", class: "danger" }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// A labelled form control: field("Name", h("input", {...}), "hint").
export function field(label, control, hint) {
  const hintElement = hint ? h("span", { class: "hint", id: `${control.id || control.name}-hint` }, hint) : null;
  if (hintElement) control.setAttribute("aria-describedby", hintElement.id);
  return h("label", { class: "field" }, h("span", {}, label), control, hintElement);
}
