import { describe, expect, it } from 'vitest';
import { useColor } from './color.js';

describe('useColor', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it('colours a terminal, not a pipe or a dumb terminal', () => {
    expect(useColor(tty, {})).toBe(true);
    expect(useColor(pipe, {})).toBe(false);
    expect(useColor(tty, { TERM: 'dumb' })).toBe(false);
  });
  it('NO_COLOR (non-empty) turns colour off; empty NO_COLOR does nothing', () => {
    expect(useColor(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColor(tty, { NO_COLOR: '' })).toBe(true);
    expect(useColor(tty, { NO_COLOR: '1', FORCE_COLOR: '' })).toBe(false);
  });
  it('FORCE_COLOR turns it on, even on a pipe and over NO_COLOR; 0 and false turn it off', () => {
    expect(useColor(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColor(pipe, { FORCE_COLOR: '3', NO_COLOR: '1' })).toBe(true);
    expect(useColor(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(useColor(tty, { FORCE_COLOR: 'false' })).toBe(false);
  });
});
