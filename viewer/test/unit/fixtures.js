import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
export const BASE = 'http://annoserver.test';

/** A fixture JSON file with {{BASE}} replaced. */
export function fixture(name) {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8').replaceAll('{{BASE}}', BASE));
}

export const CANVAS_ID = `${BASE}/fixtures/canvas/1`;
export const MANIFEST_ID = `${BASE}/fixtures/manifest.json`;
export const CANVAS = { id: CANVAS_ID, width: 2000, height: 1500 };

/** Mirador's state.annotations shape for the two fixture pages. */
export function annotationsState() {
  const detector = fixture('pages/detector-demo-1.json');
  const classifier = fixture('pages/classifier-demo-1.json');
  return {
    [CANVAS_ID]: {
      [detector.id]: { id: detector.id, isFetching: false, json: detector },
      [classifier.id]: { id: classifier.id, isFetching: false, json: classifier },
    },
  };
}
