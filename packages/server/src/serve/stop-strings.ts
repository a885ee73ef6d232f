// Stop strings over streamed text: a stop string may arrive split across tokens, so text that could still
// become the start of one is held back until the next piece settles it. Neither the stop string nor anything
// after it is emitted. Grammar-constrained output may end in whitespace the grammar forces (llama.cpp's JSON
// grammars end with newlines); with `trimEnd`, trailing whitespace is held back and dropped at the end.

export class StopStringFilter {
  /** Text received but not yet emitted: a prefix of a stop string ending the text so far, or whitespace. */
  private held = '';
  private readonly stops: string[];

  constructor(
    stops: readonly string[],
    private readonly trimEnd = false,
  ) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Adds generated text; returns what can be emitted now and whether a stop string has completed. */
  push(piece: string): { text: string; stopped: boolean } {
    const text = this.held + piece;
    let cut = -1;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.held = '';
      const before = text.slice(0, cut);
      return { text: this.trimEnd ? before.trimEnd() : before, stopped: true };
    }
    let emit = text.length - this.longestStopPrefixAtEnd(text);
    if (this.trimEnd) emit = text.slice(0, emit).trimEnd().length;
    this.held = text.slice(emit);
    return { text: text.slice(0, emit), stopped: false };
  }

  /** The held-back text, once generation ended without completing a stop string. */
  flush(): string {
    const text = this.trimEnd ? this.held.trimEnd() : this.held;
    this.held = '';
    return text;
  }

  private longestStopPrefixAtEnd(text: string): number {
    let longest = 0;
    for (const stop of this.stops)
      for (let n = Math.min(stop.length - 1, text.length); n > longest; n--)
        if (text.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
    return longest;
  }
}
