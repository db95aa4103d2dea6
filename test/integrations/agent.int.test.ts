/**
 * The agent-check reply (src/selection/agent.ts) for every state, and its socket adapter
 * (src/master/agent-port.ts) on bad input: a line without `\n`, one too long, control
 * characters, nothing sent (slowloris) — each a bounded, defined answer and a closed
 * connection. Timers on a manual clock. And a master with `--agent` lists it as the
 * `haproxy-agent` interface in /healthz, /v1/cluster and /metrics, with what it answered.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WeightBoard } from '../../src/ledger/weights.js';
import { AgentPort } from '../../src/master/agent-port.js';
import { agentReply, AGENT_BAD_REQUEST } from '../../src/selection/agent.js';
import { Cleanup } from '../helpers/cleanup.js';
import { ev } from '../helpers/events.js';
import { request } from '../helpers/http.js';
import { api, httpBase, pushedClient, startMaster, pretendDegraded } from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Table } from '../selection/table.js';

function setup() {
  const t = new Table()
    .report('10.0.0.1:80', 0)
    .report('10.0.0.2:80', 50)
    .report('10.0.0.3:80', 50, { attrs: { maxconn: 200 } })
    .report('10.0.0.4:80', 1);
  t.down('10.0.0.4:80');
  const clock = new ManualClock();
  const weights = new WeightBoard(t, { scheduler: clock, interval: 1000, policy: { min: 10, step: 100 }, serviceKey: 'service' });
  weights.start();
  const source = {
    node: (id: string) => t.projection.nodes.get(id),
    serviceOf: (n: Parameters<typeof weights.weight>[0]) => weights.serviceOf(n),
    weight: (n: Parameters<typeof weights.weight>[0]) => weights.weight(n),
  };
  return { t, clock, weights, source };
}

describe('agentReply', () => {
  it('answers the complete state, with or without the line end', () => {
    const { t, source } = setup();
    const r = (line: string) => agentReply(line, source).reply;
    expect(r('10.0.0.1:80\n')).toBe('up ready 100%');
    expect(r('10.0.0.2:80')).toBe('up ready 40%');
    expect(r('10.0.0.2:80\r\n')).toBe('up ready 40%');
    expect(r('10.0.0.2:80\\n')).toBe('up ready 40%');
    expect(r('10.0.0.3:80\n')).toBe('up ready 40% maxconn:200');
    expect(r('10.0.0.4:80\n')).toMatch(/^down #\S/);
    expect(r('10.9.9.9:80\n')).toBe('down #unknown node');
    t.apply(ev.drained('10.0.0.1:80'));
    expect(r('10.0.0.1:80\n')).toBe('up drain');
    for (const bad of ['', '\n', 'a\u0000b\n', 'x'.repeat(300), '10.0.0.1:80\u001b[2J\n'])
      expect(agentReply(bad, source)).toEqual({ reply: AGENT_BAD_REQUEST, error: true });
  });

  it('drained: up drain, also for a node that was DOWN (HAProxy changes only what a reply names: a bare drain would leave it DOWN)', () => {
    const { t, source } = setup();
    t.apply(ev.drained('10.0.0.4:80'));
    expect(agentReply('10.0.0.4:80\n', source).reply).toMatch(/^down #/);
    t.report('10.0.0.4:80', 1);
    expect(agentReply('10.0.0.4:80\n', source).reply).toBe('up drain');
  });

  it('honours a scope after the id: service=S (the --service-key attribute) and KEY=VALUE filters, as /v1/nodes', () => {
    const t = new Table()
      .report('10.0.0.1:80', 10, { attrs: { service: 'api', zone: 'eu-1', rack: 7 } })
      .report('10.0.0.2:80', 10, { attrs: { service: 'web', zone: 'eu-1' } })
      .report('10.0.0.3:80', 10, { attrs: { zone: 'us-1' } })
      .report('10.0.0.4:80', 10, { attrs: { service: 'api', zone: 'us-1' } });
    t.down('10.0.0.4:80');
    const weights = new WeightBoard(t, {
      scheduler: new ManualClock(),
      interval: 1000,
      policy: { min: 10, step: 100 },
      serviceKey: 'service',
    });
    weights.start();
    const source = {
      node: (id: string) => t.projection.nodes.get(id),
      serviceOf: (n: Parameters<typeof weights.weight>[0]) => weights.serviceOf(n),
      weight: (n: Parameters<typeof weights.weight>[0]) => weights.weight(n),
    };
    const r = (line: string) => agentReply(line, source);
    expect(r('10.0.0.1:80 service=api\n')).toEqual({ reply: 'up ready 100%', error: false });
    expect(r('10.0.0.1:80 service=api zone=eu-1 rack=7\n').reply).toBe('up ready 100%');
    expect(r('10.0.0.1:80  service=api   zone=eu-1\\n').reply).toBe('up ready 100%');
    expect(r('10.0.0.2:80 service=api\n')).toEqual({ reply: 'down #not in service api', error: false });
    expect(r('10.0.0.3:80 service=api\n').reply).toBe('down #not in service api');
    expect(r('10.0.0.3:80 service=\n').reply).toBe('up ready 100%'); // the unnamed service
    expect(r('10.0.0.1:80 service=\n').reply).toBe('down #not in service ""');
    expect(r('10.0.0.1:80 service=api zone=us-1\n').reply).toBe('down #zone is not us-1');
    expect(r('10.0.0.2:80 rack=7\n').reply).toBe('down #rack is not 7');
    // out of scope wins over DOWN (the backend is not this node's); in scope, DOWN says why
    expect(r('10.0.0.4:80 service=web\n').reply).toBe('down #not in service web');
    expect(r('10.0.0.4:80 service=api\n').reply).toMatch(/^down #(?!not in)/);
    expect(r('10.9.9.9:80 service=api\n').reply).toBe('down #unknown node');
    for (const bad of [
      '10.0.0.1:80 service\n',
      '10.0.0.1:80 =api\n',
      '10.0.0.1:80 service=a service=b\n',
      '10.0.0.1:80 zone=a zone=a\n',
      `10.0.0.1:80 ${'k=v '.repeat(300)}\n`,
    ])
      expect(r(bad), bad).toEqual({ reply: AGENT_BAD_REQUEST, error: true });
  });
});

describe('AgentPort', () => {
  const ports: AgentPort[] = [];
  afterEach(async () => {
    for (const p of ports.splice(0)) await p.close();
  });

  async function ask(send: (s: Socket) => void, clock: ManualClock, port: number, advance = 0): Promise<string> {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.setEncoding('latin1').on('data', (d: string) => (text += d));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    await new Promise<void>((r) => s.once('connect', () => r()));
    send(s);
    if (advance > 0) {
      await new Promise((r) => setTimeout(r, 50)); // the bytes reach the server
      await clock.advance(advance);
    }
    await closed;
    return text;
  }

  it('one line back and close; no line end: answered after the settle time; slowloris and floods: a bounded answer', async () => {
    const { clock, t, weights } = setup();
    const port = new AgentPort(
      { listen: { host: '127.0.0.1', port: 0 }, scheduler: clock, settle: 50, deadline: 2000 },
      { projection: t.projection, weights },
    );
    await port.listen();
    ports.push(port);
    const p = port.address.port;
    expect(await ask((s) => s.write('10.0.0.1:80\n'), clock, p)).toBe('up ready 100%\n');
    expect(await ask((s) => s.write('10.0.0.2:80'), clock, p, 60)).toBe('up ready 40%\n');
    expect(await ask(() => {}, clock, p, 2000)).toBe(`${AGENT_BAD_REQUEST}\n`); // nothing sent
    expect(await ask((s) => s.write('1'), clock, p, 2000)).toBe('down #unknown node\n');
    expect(await ask((s) => s.write('y'.repeat(5000)), clock, p)).toBe(`${AGENT_BAD_REQUEST}\n`);
    expect(await ask((s) => s.write('\u0000\u0001\n'), clock, p)).toBe(`${AGENT_BAD_REQUEST}\n`);
    expect(port.stats).toMatchObject({ requests: 6, errors: 3 });
  });
});

describe('the agent as an interface for consumers', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  /** One agent-check as HAProxy makes it: connect, the line, read the reply to the close. */
  function check(port: number, line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let text = '';
      s.setEncoding('latin1').on('data', (d: string) => (text += d));
      s.on('error', reject);
      s.on('close', () => resolve(text));
      s.write(line);
    });
  }

  it('is listed as haproxy-agent in /healthz and /v1/cluster with its requests and errors, and counted in /metrics', async () => {
    const m = await startMaster(cleanup, { helloInterval: 10_000, deadAfter: 20_000, agent: { host: '127.0.0.1', port: 0 } });
    await pushedClient(cleanup, m, { addr: '10.0.0.1:80', load: 5 });
    const port = m.agent!.address.port;
    expect(await check(port, '10.0.0.1:80\n')).toMatch(/^up ready \d+%\n$/);
    expect(await check(port, '10.9.9.9:80\n')).toBe('down #unknown node\n');
    expect(await check(port, '\u0000\n')).toBe(`${AGENT_BAD_REQUEST}\n`);
    const listed = { 'haproxy-agent': { at: `127.0.0.1:${port}`, requests: 3, errors: 1 } };
    expect((await api(m, '/healthz')).body.integrations).toEqual(listed);
    expect((await api(m, '/v1/cluster')).body.integrations).toEqual(listed);
    const metrics = (await request(httpBase(m) + '/metrics')).text;
    expect(metrics).toContain('loadledger_integration_requests_total{interface="haproxy-agent"} 3');
    expect(metrics).toContain('loadledger_integration_errors_total{interface="haproxy-agent"} 1');
    expect(metrics).toContain('loadledger_integration_answer_seconds_count{interface="haproxy-agent"} 3');
  });

  it('closes without a reply while the log cannot be written (HAProxy keeps the state it had), counted as an error', async () => {
    const m = await startMaster(cleanup, { helloInterval: 10_000, deadAfter: 20_000, agent: { host: '127.0.0.1', port: 0 } });
    await pushedClient(cleanup, m, { addr: '10.0.0.1:80', load: 5 });
    const port = m.agent!.address.port;
    const recover = pretendDegraded(m);
    expect(await check(port, '10.0.0.1:80\n')).toBe('');
    expect(m.agent!.stats).toMatchObject({ requests: 1, errors: 1 });
    recover();
    expect(await check(port, '10.0.0.1:80\n')).toMatch(/^up ready \d+%\n$/);
    expect(m.agent!.stats).toMatchObject({ requests: 2, errors: 1 });
  });

  it('is not listed while --agent is off', async () => {
    const m = await startMaster(cleanup, { helloInterval: 10_000, deadAfter: 20_000 });
    expect(m.agent).toBeUndefined();
    expect((await api(m, '/healthz')).body.integrations).toEqual({});
  });
});
