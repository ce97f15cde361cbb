// Walks the error registries of @gantry/core and @gantry/http (the root suite does the same across plugins).
import { CoreErrors, registeredErrorCodes } from '@gantry/core';
import { expect } from 'chai';
import { HttpErrors } from '../src/index.js';

describe('error registry (core + http)', () => {
  const ours = (): ReturnType<typeof registeredErrorCodes> =>
    registeredErrorCodes().filter((c) => c.owner === 'core' || c.owner === 'http');

  it('holds every code of both packages, each unique and of the form GANTRY_<OWNER>_<REASON>', () => {
    const declared = [...Object.values(CoreErrors), ...Object.values(HttpErrors)].map((f) => f.code);
    const codes = ours().map((c) => c.code);
    expect(codes).to.have.members(declared);
    expect(new Set(codes).size).to.equal(codes.length);
    for (const { code, owner } of ours()) {
      expect(code.startsWith(`GANTRY_${owner.toUpperCase()}_`), code).to.equal(true);
      expect(code).to.match(/^GANTRY_(CORE|HTTP)_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    }
  });

  it('gives every code an HTTP error status and a title', () => {
    for (const { code, spec } of ours()) {
      expect(spec.status, code).to.be.within(400, 599);
      expect(spec.title.trim(), code).not.to.equal('');
    }
  });

  it('maps the HTTP layer’s client errors to the statuses it answers with', () => {
    expect({
      VALIDATION: HttpErrors.VALIDATION.spec.status,
      MALFORMED_JSON: HttpErrors.MALFORMED_JSON.spec.status,
      NOT_FOUND: HttpErrors.NOT_FOUND.spec.status,
      METHOD_NOT_ALLOWED: HttpErrors.METHOD_NOT_ALLOWED.spec.status,
      PAYLOAD_TOO_LARGE: HttpErrors.PAYLOAD_TOO_LARGE.spec.status,
      UNSUPPORTED_MEDIA_TYPE: HttpErrors.UNSUPPORTED_MEDIA_TYPE.spec.status,
    }).to.deep.equal({
      VALIDATION: 400,
      MALFORMED_JSON: 400,
      NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      PAYLOAD_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
    });
  });
});
