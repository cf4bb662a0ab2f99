// Sign in and sign up: one form each; success sets the session cookie and opens the app.

import { api } from "../api.js";
import { errorNotice, field, h, replace } from "../dom.js";
import { loadSession } from "../session.js";

export async function render(view, { path, query, navigate }) {
  const signingUp = path === "/signup";
  const message = h("div", { "aria-live": "polite" });
  const email = h("input", { type: "email", name: "email", id: "email", autocomplete: "email", required: true });
  const password = h("input", {
    type: "password",
    name: "password",
    id: "password",
    autocomplete: signingUp ? "new-password" : "current-password",
    minlength: signingUp ? 12 : null,
    required: true,
  });
  const teamName = signingUp
    ? h("input", { type: "text", name: "teamName", id: "team-name", autocomplete: "organization", required: true, maxlength: 100 })
    : null;
  const submit = h("button", { type: "submit", class: "primary" }, signingUp ? "Create account" : "Sign in");

  const form = h(
    "form",
    { class: "stack" },
    field("Email", email),
    field("Password", password, signingUp ? "At least 12 characters." : null),
    teamName && field("Team name", teamName, "Your team starts on the free plan; upgrade any time."),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(message);
    const body = { email: email.value, password: password.value };
    if (signingUp) body.teamName = teamName.value;
    try {
      await api(signingUp ? "/api/auth/signup" : "/api/auth/login", { method: "POST", body });
      await loadSession();
      const next = query.get("next");
      navigate(next?.startsWith("/") && !next.startsWith("//") ? next : "/models", { replace: true });
    } catch (error) {
      replace(message, errorNotice(error));
      submit.disabled = false;
    }
  });

  replace(
    view,
    h(
      "section",
      { class: "auth card" },
      h("h1", {}, signingUp ? "Create your account" : "Sign in to imagegen"),
      form,
      h(
        "p",
        { class: "muted" },
        signingUp ? "Already have an account? " : "New here? ",
        h("a", { href: signingUp ? "/signin" : "/signup" }, signingUp ? "Sign in" : "Create an account"),
      ),
    ),
  );
  email.focus();
}
