// The app shell: client-side routes (History API), each page a module loaded only when visited,
// and the top bar's account controls.

import { errorNotice, h, replace } from "./dom.js";
import { loadSession, refreshBalance, signOut, state, switchTeam } from "./session.js";

const routes = [
  { path: /^\/signin$/, page: "auth", title: "Sign in", open: true },
  { path: /^\/signup$/, page: "auth", title: "Create your account", open: true },
  { path: /^\/models$/, page: "models", title: "Models" },
  { path: /^\/models\/new$/, page: "model-new", title: "Create a model" },
  { path: /^\/models\/(\d+)$/, page: "model-detail", title: "Model" },
  { path: /^\/generate$/, page: "generate", title: "Generate" },
  { path: /^\/credits$/, page: "credits", title: "Credits" },
  { path: /^\/keys$/, page: "keys", title: "Keys & webhooks" },
];
const HOME = "/models";
const main = document.getElementById("main");
let leaving = null; // aborts the current page's polling and streams when another one opens

function navigate(path, { replace: replacing = false } = {}) {
  history[replacing ? "replaceState" : "pushState"](null, "", path);
  return show();
}

async function show() {
  leaving?.abort();
  const controller = new AbortController();
  leaving = controller;
  const url = new URL(location.href);
  const route = routes.find((each) => each.path.test(url.pathname));
  if (!route) return navigate(state.session ? HOME : "/signin", { replace: true });
  if (!route.open && !state.session) {
    return navigate(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
  }
  if (route.open && state.session) return navigate(HOME, { replace: true });

  document.title = `${route.title} · imagegen`;
  for (const link of document.querySelectorAll(".nav a")) {
    const current = url.pathname.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  let page;
  try {
    page = await import(`./pages/${route.page}.js`);
  } catch {
    // After a deploy, an open tab asks for files of the old version: load the new one.
    location.reload();
    return;
  }
  if (controller.signal.aborted) return;
  const params = url.pathname.match(route.path).slice(1);
  // Each visit renders into its own element: a page still loading when the next one opens writes
  // into a detached element, never over the new page.
  const view = h("div", { class: "view" }, h("p", { class: "loading" }, "Loading…"));
  replace(main, view);
  window.scrollTo(0, 0);
  try {
    await page.render(view, { params, query: url.searchParams, signal: controller.signal, navigate, path: url.pathname });
  } catch (error) {
    if (controller.signal.aborted) return;
    replace(view, h("h1", {}, route.title), errorNotice(error));
  }
  // Screen readers and keyboards start at the new page, unless the page focused a field itself.
  if (!controller.signal.aborted && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  if (state.session) refreshBalance();
}

// Same-origin links open pages here instead of loading the document again.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", show);

window.addEventListener("session-expired", () => {
  if (!state.session) return;
  state.session = null;
  loadSession().then(show);
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await signOut();
  navigate("/signin");
});

document.getElementById("team-select").addEventListener("change", async (event) => {
  await switchTeam(event.target.value);
  show();
});

await loadSession().catch(() => null);
show();
