// regions.js — a hub's regions (CONTRACT §7): GET /api/v1/regions into
// state.regions, re-read every 10 s while there are any (the websocket
// carries no region frames; a hub's regions change on MQTT, not here).
// A pantaud that is no hub answers an empty list: it is asked once, and
// the navigation never shows #wilayah there.
import { get } from './api.js';
import { invalidate } from './render.js';
import { state } from './state.js';

export const REGIONS_EVERY_MS = 10e3;
state.regions = null; // [REGION…] as the API gives them (sorted by code); null until read
state.regionsError = '';
let timer = null;

export const hasRegions = () => Boolean(state.regions?.length);

export async function loadRegions() {
  try {
    const r = await get('/api/v1/regions');
    state.regions = r.regions || [];
    state.regionsError = '';
  } catch (e) {
    state.regionsError = e.message;
  }
  invalidate('regions');
  if (hasRegions()) watchRegions();
}

// keep: re-read even when there are none (the view is open).
export function watchRegions() {
  if (timer) return;
  timer = setInterval(loadRegions, REGIONS_EVERY_MS);
}
