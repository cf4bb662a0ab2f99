// Who is signed in, for which team, and the team's plan and balance, shown in the top bar on
// every page. Pages call refreshBalance() after anything that moves credits.

import { api } from "./api.js";
import { credits, replace, h } from "./dom.js";

export const state = { session: null, balance: null };

export async function loadSession() {
  try {
    state.session = await api("/api/auth/session");
  } catch (error) {
    if (error.status !== 401) throw error;
    state.session = null;
  }
  renderAccount();
  if (state.session?.currentTeam) await refreshBalance();
  return state.session;
}

export function currentTeam() {
  return state.session?.currentTeam ?? null;
}

export async function refreshBalance() {
  try {
    state.balance = await api("/api/credits/balance");
  } catch {
    state.balance = null; // the header shows no balance rather than failing the page
  }
  renderBalance();
  return state.balance;
}

export async function switchTeam(teamId) {
  state.session = await api("/api/auth/session/team", { method: "POST", body: { teamId } });
  renderAccount();
  await refreshBalance();
}

export async function signOut() {
  await api("/api/auth/logout", { method: "POST" }).catch(() => null);
  state.session = null;
  state.balance = null;
  renderAccount();
}

function renderAccount() {
  const signedIn = Boolean(state.session);
  document.querySelector(".nav").hidden = !signedIn;
  document.querySelector(".account").hidden = !signedIn;
  if (!signedIn) return;
  const { teams, currentTeam: team } = state.session;
  const select = document.getElementById("team-select");
  replace(
    select,
    teams.map((each) =>
      h("option", { value: each.id, selected: each.id === team?.id }, `${each.name} (${each.role})`),
    ),
  );
  select.disabled = teams.length < 2;
  select.title = state.session.user.email;
}

function renderBalance() {
  const balance = state.balance;
  document.getElementById("plan").textContent = balance ? balance.plan : "";
  document.getElementById("balance").textContent = balance
    ? `${credits(balance.availableCredits)} credits`
    : "";
}
