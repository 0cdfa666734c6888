'use strict';

// Turns a version string into its numeric parts; used to order releases.
function parseVersion(text) {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(String(text).trim());
  if (!match) {
    throw new TypeError(`not a semantic version: ${text}`);
  }
  const [, major, minor, patch, pre] = match;
  return { major: Number(major), minor: Number(minor), patch: Number(patch), pre: pre || null };
}

// Orders two versions: negative, zero or positive like Array.prototype.sort expects.
// A pre-release sorts before the release it precedes.
function compareVersions(a, b) {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (const key of ['major', 'minor', 'patch']) {
    if (x[key] !== y[key]) return x[key] - y[key];
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  return x.pre < y.pre ? -1 : 1;
}

module.exports = { parseVersion, compareVersions };
