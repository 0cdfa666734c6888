'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { parseVersion, compareVersions } = require('..');

test('parses a tag with a leading v', () => {
  assert.deepStrictEqual(parseVersion('v1.2.3'), { major: 1, minor: 2, patch: 3, pre: null });
});

test('rejects what is not a version', () => {
  assert.throws(() => parseVersion('latest'), TypeError);
});

test('orders releases and pre-releases', () => {
  const sorted = ['1.10.0', '1.2.0', '1.2.0-rc.1', '0.9.9'].sort(compareVersions);
  assert.deepStrictEqual(sorted, ['0.9.9', '1.2.0-rc.1', '1.2.0', '1.10.0']);
});
