package fhirpath

import "testing"

// briefExpressions are the expressions the search index must handle, as
// listed when this package was specified.
var briefExpressions = []string{
	"Observation.code",
	"Observation.subject",
	"Observation.subject.where(resolve() is Patient)",
	"(Observation.effective as dateTime) | (Observation.effective as Period)",
	"(Observation.value as Quantity)",
	"Observation.value.as(Quantity)",
	"Observation.component.code",
	"Patient.name",
	"Patient.name.given",
	"Patient.telecom.where(system='phone')",
	"Patient.address.city",
	"Patient.deceased.exists() and Patient.deceased != false",
	"Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName')",
	"DiagnosticReport.result",
	"Condition.onset.as(Age) | Condition.onset.as(Range)",
	"Condition.abatement.as(dateTime) | Condition.abatement.as(Period)",
	"Encounter.period",
	"Appointment.participant.actor.where(resolve() is Patient)",
	"Task.for",
	"QuestionnaireResponse.item",
	"Resource.id",
	"Resource.meta.lastUpdated",
	"Resource.meta.tag",
	"Resource.meta.profile",
	"Bundle.entry[0].resource",
	"ofType(Quantity)",
	"Observation.value.ofType(CodeableConcept)",
	"MedicationRequest.medication.as(CodeableConcept)",
	"Immunization.occurrence.as(dateTime)",
}

// r4Expressions are R4 search parameter expressions (and the forms the
// definitions packages rewrite them into) for the resource types careloop
// uses first.
var r4Expressions = []string{
	// Resource and DomainResource
	"Resource.meta.security", "Resource.meta.source", "Resource.language", "DomainResource.text",
	// Patient
	"Patient.active", "Patient.address", "Patient.address.country", "Patient.address.postalCode",
	"Patient.address.state", "Patient.address.use", "Patient.birthDate", "Patient.deceased.exists() and Patient.deceased != false",
	"Patient.telecom.where(system='email')", "Patient.name.family", "Patient.gender", "Patient.generalPractitioner",
	"Patient.identifier", "Patient.communication.language", "Patient.link.other", "Patient.managingOrganization",
	"Patient.telecom", "Patient.name.given | Patient.name.family", "(Patient.deceased as dateTime)",
	// Practitioner
	"Practitioner.active", "Practitioner.address.city", "Practitioner.communication", "Practitioner.name",
	"Practitioner.telecom.where(system='phone')", "Practitioner.identifier", "Practitioner.qualification.code",
	// PractitionerRole
	"PractitionerRole.active", "PractitionerRole.period", "PractitionerRole.telecom.where(system='email')",
	"PractitionerRole.endpoint", "PractitionerRole.location", "PractitionerRole.organization",
	"PractitionerRole.practitioner", "PractitionerRole.code", "PractitionerRole.specialty", "PractitionerRole.healthcareService",
	// Organization
	"Organization.active", "Organization.address.city", "Organization.name | Organization.alias",
	"Organization.partOf", "Organization.type", "Organization.endpoint", "Organization.identifier",
	// Location
	"Location.address", "Location.address.city", "Location.name | Location.alias", "Location.operationalStatus",
	"Location.partOf", "Location.physicalType", "Location.managingOrganization", "Location.type", "Location.status",
	// Encounter
	"Encounter.class", "Encounter.length", "Encounter.location.location", "Encounter.location.period",
	"Encounter.participant.individual.where(resolve() is Practitioner)", "Encounter.participant.type",
	"Encounter.participant.individual", "Encounter.reasonCode", "Encounter.reasonReference",
	"Encounter.serviceProvider", "Encounter.subject.where(resolve() is Patient)", "Encounter.diagnosis.condition",
	"Encounter.episodeOfCare", "Encounter.basedOn", "Encounter.hospitalization.dischargeDisposition",
	"Encounter.status", "Encounter.type", "Encounter.appointment", "Encounter.account",
	// ServiceRequest
	"ServiceRequest.authoredOn", "ServiceRequest.basedOn", "ServiceRequest.bodySite", "ServiceRequest.category",
	"ServiceRequest.code", "ServiceRequest.occurrence", "ServiceRequest.encounter", "ServiceRequest.instantiatesCanonical",
	"ServiceRequest.instantiatesUri", "ServiceRequest.intent", "ServiceRequest.performer", "ServiceRequest.performerType",
	"ServiceRequest.priority", "ServiceRequest.replaces", "ServiceRequest.requester", "ServiceRequest.requisition",
	"ServiceRequest.specimen", "ServiceRequest.status", "ServiceRequest.subject",
	// Specimen
	"Specimen.accessionIdentifier", "Specimen.collection.bodySite", "Specimen.collection.collected",
	"Specimen.collection.collector", "Specimen.container.identifier", "Specimen.container.type", "Specimen.parent",
	"Specimen.status", "Specimen.type", "Specimen.subject.where(resolve() is Patient)",
	// Observation
	"Observation.basedOn", "Observation.category", "Observation.code | Observation.component.code",
	"Observation.component.value.as(Quantity)", "Observation.component.dataAbsentReason", "Observation.dataAbsentReason",
	"Observation.derivedFrom", "Observation.device", "Observation.effective", "Observation.encounter",
	"Observation.focus", "Observation.hasMember", "Observation.method", "Observation.partOf", "Observation.performer",
	"Observation.specimen", "Observation.status",
	"(Observation.value as CodeableConcept)", "(Observation.value as dateTime) | (Observation.value as Period)",
	"(Observation.value as Quantity) | (Observation.value as SampledData)",
	"(Observation.value as string) | (Observation.value as CodeableConcept).text",
	"Observation.value.ofType(Quantity) | Observation.component.value.ofType(Quantity)",
	"code", "value.as(Quantity)", "value.ofType(DateTime) | value.ofType(Period)", "Observation",
	// DiagnosticReport
	"DiagnosticReport.basedOn", "DiagnosticReport.category", "DiagnosticReport.code", "DiagnosticReport.conclusionCode",
	"DiagnosticReport.effective", "DiagnosticReport.encounter", "DiagnosticReport.issued", "DiagnosticReport.media.link",
	"DiagnosticReport.performer", "DiagnosticReport.resultsInterpreter", "DiagnosticReport.specimen",
	"DiagnosticReport.status", "DiagnosticReport.subject.where(resolve() is Patient)",
	// ImagingStudy
	"ImagingStudy.basedOn", "ImagingStudy.series.bodySite", "ImagingStudy.series.instance.sopClass",
	"ImagingStudy.series.modality", "ImagingStudy.series.performer.actor", "ImagingStudy.started",
	"ImagingStudy.series.started", "ImagingStudy.series.uid", "ImagingStudy.series.instance.uid",
	"ImagingStudy.endpoint | ImagingStudy.series.endpoint", "ImagingStudy.interpreter", "ImagingStudy.referrer",
	// Condition
	"Condition.abatement.as(Age) | Condition.abatement.as(Range)", "Condition.abatement.as(string)",
	"Condition.asserter", "Condition.bodySite", "Condition.category", "Condition.clinicalStatus", "Condition.code",
	"Condition.encounter", "Condition.evidence.code", "Condition.evidence.detail",
	"Condition.onset.as(dateTime) | Condition.onset.as(Period)", "Condition.onset.as(string)",
	"Condition.recordedDate", "Condition.severity", "Condition.stage.summary", "Condition.verificationStatus",
	// Procedure
	"Procedure.basedOn", "Procedure.category", "Procedure.code", "Procedure.performed", "Procedure.encounter",
	"Procedure.instantiatesCanonical", "Procedure.location", "Procedure.partOf", "Procedure.performer.actor",
	"Procedure.reasonCode", "Procedure.reasonReference", "Procedure.status",
	// MedicationRequest
	"MedicationRequest.authoredOn", "MedicationRequest.category", "(MedicationRequest.medication as CodeableConcept)",
	"(MedicationRequest.medication as Reference)", "MedicationRequest.dosageInstruction.timing.event",
	"MedicationRequest.dispenseRequest.performer", "MedicationRequest.intent", "MedicationRequest.priority",
	"MedicationRequest.requester", "MedicationRequest.status", "MedicationRequest.subject",
	"MedicationRequest.performer", "MedicationRequest.reportedReference",
	// Immunization
	"Immunization.occurrence", "Immunization.location", "Immunization.lotNumber", "Immunization.manufacturer",
	"Immunization.performer.actor", "Immunization.reaction.detail", "Immunization.reaction.date",
	"Immunization.reasonCode", "Immunization.reasonReference", "Immunization.protocolApplied.series",
	"Immunization.status", "Immunization.statusReason", "Immunization.protocolApplied.targetDisease",
	"Immunization.vaccineCode", "Immunization.patient",
	// AllergyIntolerance
	"AllergyIntolerance.asserter", "AllergyIntolerance.category", "AllergyIntolerance.clinicalStatus",
	"AllergyIntolerance.code | AllergyIntolerance.reaction.substance", "AllergyIntolerance.criticality",
	"AllergyIntolerance.lastOccurrence", "AllergyIntolerance.reaction.manifestation", "AllergyIntolerance.reaction.onset",
	"AllergyIntolerance.recorder", "AllergyIntolerance.reaction.exposureRoute", "AllergyIntolerance.reaction.severity",
	"AllergyIntolerance.type", "AllergyIntolerance.verificationStatus", "AllergyIntolerance.recordedDate",
	// CarePlan
	"CarePlan.activity.detail.code", "CarePlan.activity.detail.scheduled", "CarePlan.activity.detail.scheduled.as(Timing) | CarePlan.activity.detail.scheduled.as(Period)",
	"CarePlan.activity.outcomeReference", "CarePlan.activity.detail.performer", "CarePlan.basedOn", "CarePlan.careTeam",
	"CarePlan.category", "CarePlan.addresses", "CarePlan.goal", "CarePlan.intent", "CarePlan.partOf",
	"CarePlan.replaces", "CarePlan.period", "CarePlan.status",
	// CareTeam
	"CareTeam.category", "CareTeam.participant.member", "CareTeam.period", "CareTeam.status", "CareTeam.encounter",
	// Goal
	"Goal.achievementStatus", "Goal.category", "Goal.lifecycleStatus", "(Goal.start as date)", "Goal.start.ofType(date)",
	"Goal.target.due", "(Goal.target.due as date)",
	// Schedule
	"Schedule.active", "Schedule.actor", "Schedule.planningHorizon", "Schedule.serviceType", "Schedule.specialty",
	// Slot
	"Slot.appointmentType", "Slot.schedule", "Slot.serviceType", "Slot.specialty", "Slot.start", "Slot.status",
	// Appointment
	"Appointment.appointmentType", "Appointment.basedOn", "Appointment.start",
	"Appointment.participant.actor.where(resolve() is Location)", "Appointment.participant.actor.where(resolve() is Practitioner)",
	"Appointment.participant.status", "Appointment.reasonCode", "Appointment.reasonReference", "Appointment.serviceCategory",
	"Appointment.serviceType", "Appointment.slot", "Appointment.specialty", "Appointment.status",
	"Appointment.supportingInformation",
	// Communication
	"Communication.basedOn", "Communication.category", "Communication.encounter", "Communication.instantiatesCanonical",
	"Communication.medium", "Communication.partOf", "Communication.received", "Communication.recipient",
	"Communication.sender", "Communication.sent", "Communication.status", "Communication.subject.where(resolve() is Patient)",
	// CommunicationRequest
	"CommunicationRequest.authoredOn", "CommunicationRequest.groupIdentifier", "CommunicationRequest.medium",
	"(CommunicationRequest.occurrence as dateTime)", "CommunicationRequest.occurrence.ofType(dateTime)",
	"CommunicationRequest.priority", "CommunicationRequest.recipient", "CommunicationRequest.replaces",
	"CommunicationRequest.requester", "CommunicationRequest.sender", "CommunicationRequest.status",
	// Task
	"Task.authoredOn", "Task.basedOn", "Task.businessStatus", "Task.code", "Task.encounter", "Task.focus",
	"Task.groupIdentifier", "Task.intent", "Task.lastModified", "Task.owner", "Task.partOf", "Task.performerType",
	"Task.executionPeriod", "Task.priority", "Task.requester", "Task.status", "Task.for.where(resolve() is Patient)",
	// Questionnaire
	"Questionnaire.item.code", "Questionnaire.useContext.code", "(Questionnaire.useContext.value as CodeableConcept)",
	"(Questionnaire.useContext.value as Quantity) | (Questionnaire.useContext.value as Range)",
	"Questionnaire.useContext", "Questionnaire.date", "Questionnaire.item.definition", "Questionnaire.effectivePeriod",
	"Questionnaire.jurisdiction", "Questionnaire.name", "Questionnaire.publisher", "Questionnaire.status",
	"Questionnaire.subjectType", "Questionnaire.title", "Questionnaire.url", "Questionnaire.version",
	"value.ofType(CodeableConcept)", "value.ofType(Quantity) | value.ofType(Range)",
	// QuestionnaireResponse
	"QuestionnaireResponse.author", "QuestionnaireResponse.authored", "QuestionnaireResponse.basedOn",
	"QuestionnaireResponse.encounter", "QuestionnaireResponse.partOf", "QuestionnaireResponse.questionnaire",
	"QuestionnaireResponse.source", "QuestionnaireResponse.status", "QuestionnaireResponse.subject",
	"QuestionnaireResponse.item.answer.value", "QuestionnaireResponse.item.where(linkId = '1').answer.value.ofType(Coding)",
	// Consent
	"Consent.provision.action", "Consent.provision.actor.reference", "Consent.category", "Consent.organization",
	"Consent.provision.data.reference", "Consent.provision.period", "Consent.dateTime", "Consent.provision.purpose",
	"Consent.scope", "Consent.provision.securityLabel", "Consent.source", "Consent.status",
	"Consent.sourceReference", "(Consent.source as Reference)",
	// AuditEvent
	"AuditEvent.action", "AuditEvent.agent.network.address", "AuditEvent.agent.altId", "AuditEvent.recorded",
	"AuditEvent.entity.what", "AuditEvent.entity.name", "AuditEvent.entity.role", "AuditEvent.entity.type",
	"AuditEvent.outcome", "AuditEvent.agent.who.where(resolve() is Patient) | AuditEvent.entity.what.where(resolve() is Patient)",
	"AuditEvent.agent.policy", "AuditEvent.source.site", "AuditEvent.source.observer", "AuditEvent.subtype",
	"AuditEvent.type", "AuditEvent.agent.who", "AuditEvent.agent.role", "AuditEvent.agent.type",
	// Device
	"Device.deviceName.name | Device.type.coding.display | Device.type.text", "Device.location", "Device.manufacturer",
	"Device.deviceName.name", "Device.patient", "Device.owner", "Device.status", "Device.type",
	"Device.udiCarrier.carrierHRF", "Device.udiCarrier.deviceIdentifier", "Device.url",
	// Other shapes seen in the definitions
	"ActivityDefinition.relatedArtifact.where(type='composed-of').resource",
	"ActivityDefinition.relatedArtifact.where(type='depends-on').resource | ActivityDefinition.library",
	"(ConceptMap.source as uri)", "(ConceptMap.source.ofType(canonical))", "(Composition.relatesTo.target.ofType(Identifier))",
	"Person.link.target.where(resolve() is RelatedPerson)", "Group.characteristic.value.ofType(boolean)",
	"Bundle.entry[0].resource as Composition", "Bundle.identifier", "Bundle.timestamp",
}

func TestCompileSearchExpressions(t *testing.T) {
	n := 0
	for _, list := range [][]string{briefExpressions, r4Expressions} {
		for _, expr := range list {
			n++
			if _, err := Compile(expr); err != nil {
				t.Errorf("Compile(%q): %v", expr, err)
			}
		}
	}
	if n < 180 {
		t.Errorf("only %d expressions", n)
	}
}
