// AUDITOR: the agencies that received a person's data, and whether the audit chain is intact.
import { request, type ClientOptions } from './client.js';
import { PersonDisclosuresDocument } from './generated/AUDITOR.js';

export async function disclosureReport(client: ClientOptions, personId: string) {
  const { disclosures, verifyAuditChain } = await request(client, PersonDisclosuresDocument, { personId });
  if (!verifyAuditChain.valid) throw new Error(`audit chain broken: ${verifyAuditChain.problem ?? 'unknown problem'}`);
  return disclosures.map((d) => `${d.time} ${d.agency} (${d.role})`);
}
