// End-to-end tests of careloop's FHIR R4 API, driven by fhir-kit-client, a
// FHIR client that integrators use. They run against a live server:
//
//	CARELOOP_FHIR_URL=http://127.0.0.1:8080/fhir CARELOOP_TOKEN=clk_demo_... node --test
//
// e2e/fhir_e2e_test.go starts a demo server and runs them from `go test`.
// Every test makes the resources it needs, with names and identifiers unique
// to this run, so the tests also pass against a server that has run them
// before.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from 'fhir-kit-client';

const baseUrl = process.env.CARELOOP_FHIR_URL;
const token = process.env.CARELOOP_TOKEN;
if (!baseUrl || !token) {
  throw new Error('set CARELOOP_FHIR_URL (such as http://127.0.0.1:8080/fhir) and CARELOOP_TOKEN (a careloop API key)');
}

const client = new Client({
  baseUrl,
  customHeaders: { Authorization: `Bearer ${token}` },
});

// run makes the names and identifiers of this run unique.
const run = randomUUID().replaceAll('-', '').slice(0, 12);
const identifierSystem = 'urn:careloop:e2e:mrn';
let serial = 0;

// newPatient returns a Patient resource, not yet stored, with a family name
// and an identifier that no other test uses.
function newPatient(family = `Eetest${run}x${++serial}`) {
  return {
    resourceType: 'Patient',
    active: true,
    identifier: [{ system: identifierSystem, value: `${run}-${++serial}` }],
    name: [{ use: 'official', family, given: ['Ada'] }],
    gender: 'female',
    birthDate: '1980-04-12',
  };
}

// createPatient stores a new Patient and returns the server's copy.
async function createPatient(patient = newPatient()) {
  const created = await client.create({ resourceType: 'Patient', body: patient });
  assert.equal(created.resourceType, 'Patient');
  assert.ok(created.id, 'the created Patient has an id');
  return created;
}

// rejection awaits a request that must fail and returns the error that
// fhir-kit-client threw: err.response.status and err.response.data (the
// parsed body).
async function rejection(promise) {
  try {
    const res = await promise;
    assert.fail(`the request succeeded but should have failed: ${JSON.stringify(res).slice(0, 300)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(err.response, `a response error, not ${err}`);
    return err;
  }
}

// assertOutcome checks that err is an HTTP error with status and an
// OperationOutcome body of at least one error issue.
function assertOutcome(err, status) {
  assert.equal(err.response.status, status, `status of ${err.message}`);
  const oo = err.response.data;
  assert.equal(oo.resourceType, 'OperationOutcome', `body: ${JSON.stringify(oo)}`);
  assert.ok(Array.isArray(oo.issue) && oo.issue.length > 0, 'the OperationOutcome has issues');
  assert.ok(oo.issue.some((i) => i.severity === 'error' || i.severity === 'fatal'), 'an error issue');
  return oo;
}

// ids returns the ids of a Bundle's entries.
function ids(bundle) {
  return (bundle.entry ?? []).map((e) => e.resource.id);
}

test('capability statement: FHIR 4.0.1, Patient with its search parameters', async () => {
  const cs = await client.capabilityStatement();
  assert.equal(cs.resourceType, 'CapabilityStatement');
  assert.equal(cs.fhirVersion, '4.0.1');
  assert.ok(cs.format.includes('application/fhir+json') || cs.format.includes('json'), 'JSON is a format');
  const rest = cs.rest.find((r) => r.mode === 'server');
  assert.ok(rest, 'a server rest entry');
  const patient = rest.resource.find((r) => r.type === 'Patient');
  assert.ok(patient, 'Patient is listed');
  const params = new Set(patient.searchParam.map((p) => p.name));
  for (const name of ['family', 'identifier', 'name', 'birthdate', 'gender']) {
    assert.ok(params.has(name), `Patient search parameter ${name} is listed`);
  }
  const codes = new Set(patient.interaction.map((i) => i.code));
  for (const code of ['read', 'vread', 'update', 'patch', 'delete', 'create', 'search-type', 'history-instance']) {
    assert.ok(codes.has(code), `Patient interaction ${code} is listed`);
  }
  assert.ok(rest.resource.some((r) => r.type === 'Observation'), 'Observation is listed');
});

test('create then read a Patient', async () => {
  const sent = newPatient();
  const created = await createPatient(sent);
  assert.equal(created.meta.versionId, '1');
  assert.ok(created.meta.lastUpdated, 'meta.lastUpdated is set');
  assert.deepEqual(created.name, sent.name);
  assert.deepEqual(created.identifier, sent.identifier);

  const { response } = Client.httpFor(created);
  assert.equal(response.status, 201);
  assert.match(response.headers.get('location'), new RegExp(`/Patient/${created.id}/_history/1$`));
  assert.equal(response.headers.get('etag'), 'W/"1"');

  const read = await client.read({ resourceType: 'Patient', id: created.id });
  assert.equal(read.id, created.id);
  assert.equal(read.meta.versionId, '1');
  assert.equal(read.birthDate, '1980-04-12');
  assert.deepEqual(read.name, sent.name);
});

test('search a Patient by family name and by identifier', async () => {
  const created = await createPatient();
  const family = created.name[0].family;
  const { system, value } = created.identifier[0];

  const byFamily = await client.search({ resourceType: 'Patient', searchParams: { family } });
  assert.equal(byFamily.resourceType, 'Bundle');
  assert.equal(byFamily.type, 'searchset');
  assert.deepEqual(ids(byFamily), [created.id]);
  assert.equal(byFamily.entry[0].search?.mode, 'match');
  assert.equal(byFamily.entry[0].fullUrl, `${baseUrl}/Patient/${created.id}`);

  const byIdentifier = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${system}|${value}` } });
  assert.deepEqual(ids(byIdentifier), [created.id]);

  const byPost = await client.search({
    resourceType: 'Patient',
    searchParams: { identifier: `${system}|${value}` },
    options: { postSearch: true },
  });
  assert.deepEqual(ids(byPost), [created.id], 'POST _search finds it too');

  const none = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${system}|${value}-none` } });
  assert.deepEqual(ids(none), []);
});

test('update with a version check: a stale If-Match is refused with 412, the current one makes a new version', async () => {
  const created = await createPatient();
  const changed = { ...created, gender: 'other' };
  delete changed.meta;

  const first = await client.update({
    resourceType: 'Patient', id: created.id, body: changed,
    options: { headers: { 'If-Match': 'W/"1"' } },
  });
  assert.equal(first.meta.versionId, '2');
  assert.equal(first.gender, 'other');

  const stale = await rejection(client.update({
    resourceType: 'Patient', id: created.id, body: { ...changed, gender: 'unknown' },
    options: { headers: { 'If-Match': 'W/"1"' } },
  }));
  const oo = assertOutcome(stale, 412);
  assert.ok(oo.issue.some((i) => i.code === 'conflict'), `issue code conflict: ${JSON.stringify(oo)}`);
  const unchanged = await client.read({ resourceType: 'Patient', id: created.id });
  assert.equal(unchanged.meta.versionId, '2', 'the refused update changed nothing');
  assert.equal(unchanged.gender, 'other');

  const second = await client.update({
    resourceType: 'Patient', id: created.id, body: { ...changed, gender: 'unknown' },
    options: { headers: { 'If-Match': 'W/"2"' } },
  });
  assert.equal(second.meta.versionId, '3');
  assert.equal(second.gender, 'unknown');
  assert.equal(Client.httpFor(second).response.headers.get('etag'), 'W/"3"');
});

test('JSON patch', async () => {
  const created = await createPatient();
  const patched = await client.patch({
    resourceType: 'Patient',
    id: created.id,
    jsonPatch: [
      { op: 'test', path: '/gender', value: 'female' },
      { op: 'replace', path: '/gender', value: 'male' },
      { op: 'add', path: '/telecom', value: [{ system: 'phone', value: '+1 555 0100', use: 'mobile' }] },
      { op: 'remove', path: '/active' },
    ],
  });
  assert.equal(patched.id, created.id);
  assert.equal(patched.meta.versionId, '2');
  assert.equal(patched.gender, 'male');
  assert.deepEqual(patched.telecom, [{ system: 'phone', value: '+1 555 0100', use: 'mobile' }]);
  assert.equal(patched.active, undefined);

  const read = await client.read({ resourceType: 'Patient', id: created.id });
  assert.equal(read.gender, 'male');

  // A failing test operation changes nothing.
  const failed = await rejection(client.patch({
    resourceType: 'Patient',
    id: created.id,
    jsonPatch: [
      { op: 'test', path: '/gender', value: 'female' },
      { op: 'replace', path: '/gender', value: 'other' },
    ],
  }));
  assert.ok(failed.response.status >= 400 && failed.response.status < 500, `a client error, got ${failed.response.status}`);
  assert.equal(failed.response.data.resourceType, 'OperationOutcome');
  const after = await client.read({ resourceType: 'Patient', id: created.id });
  assert.equal(after.meta.versionId, '2');
  assert.equal(after.gender, 'male');
});

test('transaction: a Patient and an Observation that refers to it by urn:uuid', async () => {
  const patientUrn = `urn:uuid:${randomUUID()}`;
  const patient = newPatient();
  const bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: patientUrn,
        resource: patient,
        request: { method: 'POST', url: 'Patient' },
      },
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
          subject: { reference: patientUrn },
          effectiveDateTime: '2024-05-01T08:30:00Z',
          valueQuantity: { value: 95, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
        },
        request: { method: 'POST', url: 'Observation' },
      },
    ],
  };
  const res = await client.transaction({ body: bundle });
  assert.equal(res.resourceType, 'Bundle');
  assert.equal(res.type, 'transaction-response');
  assert.equal(res.entry.length, 2);
  for (const e of res.entry) {
    assert.match(e.response.status, /^201/, `entry status ${e.response.status}`);
  }
  const patientLoc = res.entry[0].response.location;
  const obsLoc = res.entry[1].response.location;
  const patientId = patientLoc.match(/Patient\/([^/]+)/)?.[1];
  const obsId = obsLoc.match(/Observation\/([^/]+)/)?.[1];
  assert.ok(patientId, `Patient location ${patientLoc}`);
  assert.ok(obsId, `Observation location ${obsLoc}`);

  const storedPatient = await client.read({ resourceType: 'Patient', id: patientId });
  assert.deepEqual(storedPatient.identifier, patient.identifier);
  const obs = await client.read({ resourceType: 'Observation', id: obsId });
  assert.equal(obs.subject.reference, `Patient/${patientId}`, 'the urn:uuid reference was rewritten to the new Patient');

  const bySubject = await client.search({ resourceType: 'Observation', searchParams: { subject: `Patient/${patientId}` } });
  assert.deepEqual(ids(bySubject), [obsId], 'the rewritten reference is indexed');
});

test('batch: one valid and one invalid entry are answered one by one', async () => {
  const valid = newPatient();
  const bundle = {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      { resource: valid, request: { method: 'POST', url: 'Patient' } },
      {
        resource: { resourceType: 'Patient', gender: 'not-a-gender', birthDate: 'yesterday' },
        request: { method: 'POST', url: 'Patient' },
      },
    ],
  };
  const res = await client.batch({ body: bundle });
  assert.equal(res.resourceType, 'Bundle');
  assert.equal(res.type, 'batch-response');
  assert.equal(res.entry.length, 2);

  const [ok, bad] = res.entry;
  assert.match(ok.response.status, /^201/, `valid entry: ${ok.response.status}`);
  const id = ok.response.location.match(/Patient\/([^/]+)/)?.[1];
  assert.ok(id, `valid entry location ${ok.response.location}`);
  const stored = await client.read({ resourceType: 'Patient', id });
  assert.deepEqual(stored.identifier, valid.identifier);

  assert.match(bad.response.status, /^4\d\d/, `invalid entry: ${bad.response.status}`);
  assert.equal(bad.response.outcome?.resourceType, 'OperationOutcome', `invalid entry outcome: ${JSON.stringify(bad.response)}`);
  assert.ok(bad.response.outcome.issue.some((i) => i.severity === 'error'), 'an error issue');
});

test('history and vread', async () => {
  const created = await createPatient();
  const v2 = await client.update({
    resourceType: 'Patient', id: created.id, body: { ...created, meta: undefined, gender: 'other' },
  });
  assert.equal(v2.meta.versionId, '2');

  const history = await client.resourceHistory({ resourceType: 'Patient', id: created.id });
  assert.equal(history.resourceType, 'Bundle');
  assert.equal(history.type, 'history');
  assert.deepEqual(history.entry.map((e) => e.resource.meta.versionId), ['2', '1'], 'newest first');
  assert.equal(history.entry[0].resource.gender, 'other');
  assert.equal(history.entry[1].resource.gender, 'female');
  for (const e of history.entry) {
    assert.ok(e.request?.method, 'a history entry has a request');
    assert.ok(e.response?.status, 'a history entry has a response');
  }

  const same = await client.history({ resourceType: 'Patient', id: created.id });
  assert.deepEqual(same.entry.map((e) => e.resource.meta.versionId), ['2', '1']);

  const typeHistory = await client.history({ resourceType: 'Patient' });
  assert.equal(typeHistory.type, 'history');
  assert.ok(typeHistory.entry.length > 0, 'type history has entries');

  const v1 = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
  assert.equal(v1.meta.versionId, '1');
  assert.equal(v1.gender, 'female');
  const v2again = await client.vread({ resourceType: 'Patient', id: created.id, version: '2' });
  assert.equal(v2again.gender, 'other');

  const missing = await rejection(client.vread({ resourceType: 'Patient', id: created.id, version: '9' }));
  assertOutcome(missing, 404);
});

test('delete, then read is 410 Gone', async () => {
  const created = await createPatient();
  await client.delete({ resourceType: 'Patient', id: created.id });

  const gone = await rejection(client.read({ resourceType: 'Patient', id: created.id }));
  assertOutcome(gone, 410);

  const found = await client.search({ resourceType: 'Patient', searchParams: { _id: created.id } });
  assert.deepEqual(ids(found), [], 'a deleted Patient is not found by search');

  const v1 = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
  assert.equal(v1.id, created.id, 'the version before the delete can still be read');
  const deletion = await rejection(client.vread({ resourceType: 'Patient', id: created.id, version: '2' }));
  assertOutcome(deletion, 410);

  const history = await client.resourceHistory({ resourceType: 'Patient', id: created.id });
  assert.deepEqual(history.entry.map((e) => e.request.method), ['DELETE', 'POST']);
  assert.equal(history.entry[0].resource, undefined, 'a deletion has no resource');

  const unknown = await rejection(client.read({ resourceType: 'Patient', id: `nope-${run}` }));
  assertOutcome(unknown, 404);
});

test('search paging with nextPage', async () => {
  const family = `Eepage${run}`;
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push((await createPatient(newPatient(family))).id);
  }
  let page = await client.search({ resourceType: 'Patient', searchParams: { family, _count: 2 } });
  const seen = [];
  const sizes = [];
  for (let n = 0; page && n < 10; n++) {
    assert.equal(page.type, 'searchset');
    sizes.push(page.entry?.length ?? 0);
    seen.push(...ids(page));
    page = await client.nextPage({ bundle: page });
  }
  assert.equal(page, undefined, 'the last page has no next link');
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual([...seen].sort(), [...made].sort(), 'every Patient once, across the pages');
});

test('search the demo data: glucose Observations', async () => {
  const bundle = await client.search({
    resourceType: 'Observation',
    searchParams: { code: 'http://loinc.org|2345-7', _count: 5 },
  });
  assert.equal(bundle.type, 'searchset');
  assert.ok(bundle.entry?.length > 0, 'the demo data has glucose results');
  assert.ok(bundle.entry.length <= 5, `at most _count entries, got ${bundle.entry.length}`);
  for (const e of bundle.entry) {
    assert.equal(e.resource.resourceType, 'Observation');
    assert.ok(
      e.resource.code.coding.some((c) => c.system === 'http://loinc.org' && c.code === '2345-7'),
      `Observation/${e.resource.id} is a glucose result`,
    );
  }
  if (bundle.entry.length === 5) {
    const next = await client.nextPage({ bundle });
    assert.ok(next, 'more glucose results on the next page');
    assert.ok(next.entry?.length > 0);
    const first = new Set(ids(bundle));
    assert.ok(ids(next).every((id) => !first.has(id)), 'pages do not overlap');
  }
});

test('a request without a token is refused with 401 and an OperationOutcome', async () => {
  const anonymous = new Client({ baseUrl });
  const err = await rejection(anonymous.search({ resourceType: 'Patient', searchParams: { _count: 1 } }));
  const oo = assertOutcome(err, 401);
  assert.ok(oo.issue.some((i) => i.code === 'login' || i.code === 'security'), `issue code: ${JSON.stringify(oo)}`);

  const wrong = new Client({ baseUrl, customHeaders: { Authorization: 'Bearer clk_demo_0000000000000000000000000000000000000000' } });
  const err2 = await rejection(wrong.read({ resourceType: 'Patient', id: 'anything' }));
  assertOutcome(err2, 401);
});

// HTTP requires a challenge on every 401 (RFC 9110 section 15.5.2; RFC 6750
// section 3 for bearer tokens), and clients use it to tell "sign in" from
// other failures. (fhir-kit-client hands the response headers over as
// err.config.headers.)
test('a 401 carries a WWW-Authenticate: Bearer challenge', async () => {
  const anonymous = new Client({ baseUrl });
  const err = await rejection(anonymous.search({ resourceType: 'Patient', searchParams: { _count: 1 } }));
  assert.equal(err.response.status, 401);
  const challenge = err.config.headers.get('www-authenticate');
  assert.match(challenge ?? '', /^Bearer\b/i, `WWW-Authenticate: ${challenge}`);
});

test('Accept: application/fhir+xml is refused with 406', async () => {
  const created = await createPatient();
  const err = await rejection(client.read({
    resourceType: 'Patient', id: created.id,
    options: { headers: { Accept: 'application/fhir+xml' } },
  }));
  const oo = assertOutcome(err, 406);
  assert.ok(oo.issue.some((i) => i.code === 'not-supported'), `issue code: ${JSON.stringify(oo)}`);

  const viaFormat = await rejection(client.search({ resourceType: 'Patient', searchParams: { _format: 'xml' } }));
  assertOutcome(viaFormat, 406);
});
