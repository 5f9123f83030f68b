// Package benchops holds the operations custodia's performance figures are measured with
// (docs/performance.md): the person card, a search page of 50 with every relation and the
// detention status of 50. The Go benchmarks in package app and the load generator
// cmd/loadtest send exactly these documents, so their figures describe the same work.
//
// The page and the status search the persons whose family name is "Zkušební" and whose date of
// birth is 1985-05-05: the benchmark registers (crowdRegisterOf in package app's tests) give
// 50 persons with convictions and detention history those values, so a page of 50 is full.
package benchops

// PersonCard is one person with every field a court may read: history, sentences, the full
// copy of the criminal record (with $copy) and rehabilitation.
const PersonCard = `
query Card($id: ID!, $purpose: PurposeInput!, $copy: Boolean) {
  person(id: $id, purpose: $purpose) {
    id givenNames familyName birthFamilyName previousNames { familyName givenNames usedUntil }
    dateOfBirth placeOfBirth { city country } sex nationalities nationalId
    residence { street city postalCode country }
    detentionStatus {
      deprivedOfLiberty kind since inPrisonSince expectedRelease
      prison { id name kind address { street city postalCode country } phone email }
      responsibleAuthority { kind name caseReference }
    }
    detentionHistory {
      id kind start end expectedRelease releaseReason
      prison { id name kind address { city } }
      responsibleAuthority { kind name caseReference }
      sentence { id kind durationMonths status conviction { id caseReference } }
    }
    convictions(includeExpunged: $copy) {
      id court caseReference decisionDate finalDate expunged expungedOn
      person { id }
      offences { legalProvision description category completion participation intentional committedOn }
      sentences { id kind durationMonths amount { amount currency } suspended probationMonths startDate endDate status conviction { id } }
      rehabilitation { earliestDate rule blockedBy }
    }
  }
}`

// SearchPage is a page of $first persons with every relation (for 50 in the benchmark register,
// with $copy: 941 JSON objects, 3,654 fields, 87 kB),
// for a court (criminal proceedings).
const SearchPage = `query Page($first: Int, $copy: Boolean) {
  searchPersons(filter: {familyName: "zkusebni", dateOfBirth: "1985-05-05"}, first: $first, purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) {
    edges { cursor node {
      id givenNames familyName birthFamilyName dateOfBirth sex nationalities nationalId
      residence { street city postalCode country }
      detentionStatus { deprivedOfLiberty kind since prison { id name address { city } } responsibleAuthority { name } }
      detentionHistory { id kind start end prison { id name address { city } } sentence { id kind } }
      convictions(includeExpunged: $copy) { id court caseReference decisionDate expunged
        offences { legalProvision category } sentences { id kind status durationMonths } rehabilitation { earliestDate rule } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`

// DetentionStatus is the detention status with the prison's address of $first persons, for
// the prison service (detention management).
const DetentionStatus = `query Status($first: Int) {
  searchPersons(filter: {familyName: "zkusebni", dateOfBirth: "1985-05-05"}, first: $first, purpose: {caseReference: "4 T 1/2026", reason: DETENTION_MANAGEMENT}) {
    edges { node { id detentionStatus { deprivedOfLiberty kind since prison { name address { street city postalCode } } } } }
  }
}`
