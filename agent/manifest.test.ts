import { metadataFacts } from './manifest';
import { authorizePeer, dnsNames } from './tls';

const METADATA = `/* CTF 1.8 */
trace {
\tmajor = 1;
\tuuid = "0eeb3366-f423-4c6f-b5dc-d99f3b2bf5cc";
\tpacket.header := struct {
\t\tuint32_t magic;
\t};
};

env {
\thostname = "node-a";
\tkernel_release = "6.1.0-57-amd64";
};

clock {
\tname = "monotonic";
\tuuid = "d9f01d2c-5008-fbfd-88f0-c30e957a4cca";
\toffset_s = 1700000000;
\toffset = 123456789;
\tabsolute = true;
};
`;

describe('the manifest reads its trace fields from the metadata', () => {
  it('takes the uuid, hostname, boot id and clock offset', () => {
    expect(metadataFacts(METADATA)).toEqual({
      traceUuid: '0eeb3366-f423-4c6f-b5dc-d99f3b2bf5cc',
      hostname: 'node-a',
      bootId: 'd9f01d2c-5008-fbfd-88f0-c30e957a4cca',
      clockOffsetNs: 1_700_000_000_123_456_789n,
    });
  });

  it('names what is missing', () => {
    expect(() => metadataFacts(METADATA.replace(/\toffset = .*\n/, ''))).toThrow(
      "the trace metadata's clock block has no offset",
    );
    expect(() => metadataFacts('trace {\n};\n')).toThrow('the trace metadata has no clock block');
  });
});

describe('who may ask for a trace', () => {
  const subject = (CN: string) => ({
    subject: { CN } as never,
    subjectaltname: `DNS:${CN}.rewind.svc, IP Address:10.0.0.1`,
  });

  it('admits a verified certificate naming the controller by common name or DNS name', () => {
    expect(authorizePeer(true, subject('rewind-controller'), 'rewind-controller')).toEqual({
      ok: true,
    });
    expect(authorizePeer(true, subject('x'), 'x.rewind.svc')).toEqual({ ok: true });
    expect(dnsNames('DNS:a, DNS:b, IP Address:1.2.3.4')).toEqual(['a', 'b']);
  });

  it('refuses an unverified one (401) and one naming someone else (403)', () => {
    expect(authorizePeer(false, subject('rewind-controller'), 'rewind-controller')).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(authorizePeer(true, {} as never, 'rewind-controller')).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(authorizePeer(true, subject('rewind-agent'), 'rewind-controller')).toEqual({
      ok: false,
      status: 403,
      reason:
        'the client certificate names rewind-agent, rewind-agent.rewind.svc, not rewind-controller',
    });
  });
});
