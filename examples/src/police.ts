// POLICE: is a person deprived of liberty, and which prison to call?
import { request, type ClientOptions } from './client.js';
import { DetentionCheckDocument } from './generated/POLICE.js';

/** The prison holding the person and its phone number, or null when the person is free. */
export async function whereHeld(
  client: ClientOptions,
  nationalId: string,
  caseReference: string,
): Promise<{ prison: string; phone: string | null } | null> {
  const { personByNationalId: person } = await request(client, DetentionCheckDocument, {
    nationalId,
    purpose: { caseReference, reason: 'PRE_TRIAL_INVESTIGATION' },
  });
  const status = person.detentionStatus;
  if (!status.deprivedOfLiberty || !status.prison) return null;
  return { prison: status.prison.name, phone: status.prison.phone };
}
