// A small pickle virtual machine, enough for torch.save state dicts (protocols 2-5): it builds
// plain values and hands GLOBAL + REDUCE pairs and persistent ids to callbacks, so no code runs.

export interface PickleGlobal { kind: 'global'; module: string; name: string }
export interface PickleHooks {
  /** Called for REDUCE (and NEWOBJ) with the callable (a global) and its argument tuple. */
  reduce(fn: unknown, args: unknown[]): unknown;
  /** Called for BINPERSID / PERSID with the persistent id. */
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

export function unpickle(buf: Buffer, hooks: PickleHooks, source = 'pickle'): unknown {
  return unpickleAt(buf, 0, hooks, source).value;
}

/** One pickle starting at byte `start` (a file may hold several in a row): its value and where it ends. */
export function unpickleAt(buf: Buffer, start: number, hooks: PickleHooks, source = 'pickle'): { value: unknown; end: number } {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = start;
  const fail = (msg: string): never => { throw new Error(`${source}: ${msg} at byte ${p}`); };
  const popMark = (): unknown[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) fail('MARK not found');
    const items = stack.splice(i + 1);
    stack.pop();
    return items;
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    for (let i = 0; i < kv.length; i += 2) {
      if (d instanceof Map) d.set(kv[i], kv[i + 1]);
      else (d as Record<string, unknown>)[String(kv[i])] = kv[i + 1];
    }
  };
  const readLine = (): string => {
    const e = buf.indexOf(0x0a, p);
    const s = buf.toString('latin1', p, e);
    p = e + 1;
    return s;
  };
  for (;;) {
    if (p >= buf.length) fail('unexpected end of pickle');
    const op = buf[p++];
    switch (op) {
      case 0x80: p++; break; // PROTO
      case 0x95: p += 8; break; // FRAME
      case 0x2e: return { value: stack.pop(), end: p }; // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const kv = popMark(); const d = new Map(); setItems(d, kv); stack.push(d); break; } // DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([stack.pop()]); break;
      case 0x86: { const b = stack.pop(); const a = stack.pop(); stack.push([a, b]); break; }
      case 0x87: { const c = stack.pop(); const b = stack.pop(); const a = stack.pop(); stack.push([a, b, c]); break; }
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4a: stack.push(buf.readInt32LE(p)); p += 4; break; // BININT
      case 0x4b: stack.push(buf[p]); p += 1; break; // BININT1
      case 0x4d: stack.push(buf.readUInt16LE(p)); p += 2; break; // BININT2
      case 0x8a: { // LONG1
        const n = buf[p++];
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[p + i]);
        if (n > 0 && buf[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: stack.push(buf.readDoubleBE(p)); p += 8; break; // BINFLOAT
      case 0x58: { const n = buf.readUInt32LE(p); p += 4; stack.push(buf.toString('utf8', p, p + n)); p += n; break; } // BINUNICODE
      case 0x8c: { const n = buf[p++]; stack.push(buf.toString('utf8', p, p + n)); p += n; break; } // SHORT_BINUNICODE
      case 0x8d: { const n = Number(buf.readBigUInt64LE(p)); p += 8; stack.push(buf.toString('utf8', p, p + n)); p += n; break; }
      case 0x54: { const n = buf.readInt32LE(p); p += 4; stack.push(buf.toString('latin1', p, p + n)); p += n; break; } // BINSTRING
      case 0x55: { const n = buf[p++]; stack.push(buf.toString('latin1', p, p + n)); p += n; break; } // SHORT_BINSTRING
      case 0x42: { const n = buf.readUInt32LE(p); p += 4; stack.push(buf.subarray(p, p + n)); p += n; break; } // BINBYTES
      case 0x43: { const n = buf[p++]; stack.push(buf.subarray(p, p + n)); p += n; break; } // SHORT_BINBYTES
      case 0x63: { const module = readLine(); const name = readLine(); stack.push({ kind: 'global', module, name } satisfies PickleGlobal); break; } // GLOBAL
      case 0x93: { const name = stack.pop() as string; const module = stack.pop() as string; stack.push({ kind: 'global', module, name } satisfies PickleGlobal); break; }
      case 0x71: memo.set(buf[p++], stack[stack.length - 1]); break; // BINPUT
      case 0x72: memo.set(buf.readUInt32LE(p), stack[stack.length - 1]); p += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break; // MEMOIZE
      case 0x68: stack.push(memo.get(buf[p++])); break; // BINGET
      case 0x6a: stack.push(memo.get(buf.readUInt32LE(p))); p += 4; break; // LONG_BINGET
      case 0x30: stack.pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(stack[stack.length - 1]); break; // DUP
      case 0x51: stack.push(hooks.persistentLoad(stack.pop())); break; // BINPERSID
      case 0x50: stack.push(hooks.persistentLoad(readLine())); break; // PERSID
      case 0x52: { const args = stack.pop() as unknown[]; const fn = stack.pop(); stack.push(hooks.reduce(fn, args)); break; } // REDUCE
      case 0x81: { const args = stack.pop() as unknown[]; const cls = stack.pop(); stack.push(hooks.reduce(cls, args)); break; } // NEWOBJ
      case 0x73: { const v = stack.pop(); const k = stack.pop(); setItems(stack[stack.length - 1], [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(stack[stack.length - 1], kv); break; } // SETITEMS
      case 0x61: { const v = stack.pop(); (stack[stack.length - 1] as unknown[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); (stack[stack.length - 1] as unknown[]).push(...items); break; } // APPENDS
      case 0x62: stack.pop(); break; // BUILD: object state (e.g. an OrderedDict's _metadata) is not needed
      default: fail(`unsupported pickle opcode 0x${op.toString(16)}`);
    }
  }
}
