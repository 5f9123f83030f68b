package seed

import "custodia/model"

// prisonRows are the demo prisons: real institution names of the Czech, Slovak and Portuguese
// prison services with illustrative contact details. IDs are stable: documentation and tests
// name them.
var prisonRows = []struct {
	id, name                             string
	kind                                 model.PrisonKind
	street, city, postal, country, phone string
}{
	{"PRS-PANKRAC", "Vazební věznice Praha-Pankrác", model.PrisonKindCustodyPrison, "Soudní 1672/1a", "Praha 4", "140 67", "CZ", "+420 244 024 111"},
	{"PRS-RUZYNE", "Vazební věznice Praha-Ruzyně", model.PrisonKindCustodyPrison, "Staré náměstí 3/5", "Praha 6", "161 00", "CZ", "+420 220 111 111"},
	{"PRS-BRNO-VV", "Vazební věznice Brno", model.PrisonKindCustodyPrison, "Bauerova 492/5", "Brno", "603 00", "CZ", "+420 543 165 111"},
	{"PRS-OSTRAVA-VV", "Vazební věznice Ostrava", model.PrisonKindCustodyPrison, "U Soudu 6184/5", "Ostrava", "708 36", "CZ", "+420 597 315 111"},
	{"PRS-LITOMERICE-VV", "Vazební věznice Litoměřice", model.PrisonKindCustodyPrison, "Mírové náměstí 37", "Litoměřice", "412 01", "CZ", "+420 416 805 111"},
	{"PRS-HRADEC-VV", "Vazební věznice Hradec Králové", model.PrisonKindCustodyPrison, "Pouchovská 85", "Hradec Králové", "500 03", "CZ", "+420 495 404 111"},
	{"PRS-OLOMOUC-VV", "Vazební věznice Olomouc", model.PrisonKindCustodyPrison, "Mlýnská 2", "Olomouc", "771 12", "CZ", "+420 585 508 111"},
	{"PRS-BUDEJOVICE-VV", "Vazební věznice České Budějovice", model.PrisonKindCustodyPrison, "Goethova 1", "České Budějovice", "370 01", "CZ", "+420 386 702 111"},
	{"PRS-BORY", "Věznice Plzeň", model.PrisonKindPrison, "Klatovská třída 1546/202", "Plzeň", "301 00", "CZ", "+420 377 158 111"},
	{"PRS-MIROV", "Věznice Mírov", model.PrisonKindPrison, "Mírov 1", "Mírov", "789 53", "CZ", "+420 583 440 111"},
	{"PRS-VALDICE", "Věznice Valdice", model.PrisonKindPrison, "Nám. Jiřího z Poděbrad 109", "Valdice", "507 11", "CZ", "+420 493 518 111"},
	{"PRS-KURIM", "Věznice Kuřim", model.PrisonKindPrison, "Blanenská 1000", "Kuřim", "664 34", "CZ", "+420 541 241 111"},
	{"PRS-RYNOVICE", "Věznice Rýnovice", model.PrisonKindPrison, "Belgická 3902", "Jablonec nad Nisou", "466 01", "CZ", "+420 483 373 111"},
	{"PRS-KARVINA", "Věznice Karviná", model.PrisonKindPrison, "Ke Kapli 1", "Karviná", "735 06", "CZ", "+420 596 385 111"},
	{"PRS-HERMANICE", "Věznice Heřmanice", model.PrisonKindPrison, "Orlovská 1", "Ostrava", "713 00", "CZ", "+420 596 236 111"},
	{"PRS-VINARICE", "Věznice Vinařice", model.PrisonKindPrison, "Kladenská 145", "Vinařice", "273 07", "CZ", "+420 312 296 111"},
	{"PRS-ORACOV", "Věznice Oráčov", model.PrisonKindPrison, "Oráčov 1", "Oráčov", "270 32", "CZ", "+420 313 539 111"},
	{"PRS-JIRICE", "Věznice Jiřice", model.PrisonKindPrison, "Jiřice u Lysé nad Labem 1", "Lysá nad Labem", "289 22", "CZ", "+420 325 516 111"},
	{"PRS-SVETLA", "Věznice Světlá nad Sázavou", model.PrisonKindPrison, "Horní Bohušice 1", "Světlá nad Sázavou", "582 91", "CZ", "+420 569 455 111"},
	{"PRS-RAPOTICE", "Věznice Rapotice", model.PrisonKindPrison, "Rapotice 1", "Rapotice", "675 73", "CZ", "+420 568 885 111"},
	{"PRS-KYNSPERK", "Věznice Kynšperk nad Ohří", model.PrisonKindPrison, "Zlatá 1", "Kynšperk nad Ohří", "357 51", "CZ", "+420 352 360 111"},
	{"PRS-HRUBY-JESENIK", "Věznice Odolov", model.PrisonKindPrison, "Odolov 1", "Malé Svatoňovice", "542 34", "CZ", "+420 499 886 111"},
	{"PRS-VSEHRDY", "Věznice Všehrdy", model.PrisonKindJuvenilePrison, "Všehrdy 1", "Všehrdy", "431 21", "CZ", "+420 474 331 111"},
	{"PRS-OPAVA-MLAD", "Věznice Opava (oddělení pro mladistvé)", model.PrisonKindJuvenilePrison, "Krnovská 1", "Opava", "746 01", "CZ", "+420 553 695 111"},
	{"PRS-NEMOCNICE", "Vězeňská nemocnice Praha-Pankrác", model.PrisonKindPrisonHospital, "Soudní 1672/1a", "Praha 4", "140 67", "CZ", "+420 244 024 501"},
	{"PRS-NEMOCNICE-BRNO", "Vězeňská nemocnice Brno", model.PrisonKindPrisonHospital, "Bauerova 492/5", "Brno", "603 00", "CZ", "+420 543 165 501"},
	{"PRS-DETENCE-BRNO", "Ústav pro výkon zabezpečovací detence Brno", model.PrisonKindSecurityDetentionInstitute, "Hlinky 3", "Brno", "603 00", "CZ", "+420 543 245 111"},
	{"PRS-DETENCE-OPAVA", "Ústav pro výkon zabezpečovací detence Opava", model.PrisonKindSecurityDetentionInstitute, "Krnovská 10", "Opava", "746 01", "CZ", "+420 553 695 311"},
	{"PRS-SK-BRATISLAVA", "Ústav na výkon väzby Bratislava", model.PrisonKindCustodyPrison, "Chorvátska 5", "Bratislava", "812 33", "SK", "+421 2 5728 1111"},
	{"PRS-SK-LEOPOLDOV", "Ústav na výkon trestu odňatia slobody Leopoldov", model.PrisonKindPrison, "Gucmanova 19/675", "Leopoldov", "920 41", "SK", "+421 33 7349 111"},
	{"PRS-SK-SUCANY", "Ústav na výkon trestu odňatia slobody pre mladistvých Sučany", model.PrisonKindJuvenilePrison, "Martinská 1", "Sučany", "038 52", "SK", "+421 43 4290 111"},
	{"PRS-SK-TRENCIN", "Nemocnica pre obvinených a odsúdených Trenčín", model.PrisonKindPrisonHospital, "Súdna 1", "Trenčín", "911 01", "SK", "+421 32 7401 111"},
	{"PRS-PT-LISBOA", "Estabelecimento Prisional de Lisboa", model.PrisonKindPrison, "Rua Marquês da Fronteira 54", "Lisboa", "1099-020", "PT", "+351 21 388 0000"},
	{"PRS-PT-PACOS", "Estabelecimento Prisional de Paços de Ferreira", model.PrisonKindPrison, "Rua da Cadeia 1", "Paços de Ferreira", "4590-518", "PT", "+351 255 860 000"},
}

func prisons() []model.Prison {
	out := make([]model.Prison, len(prisonRows))
	for i, r := range prisonRows {
		phone := r.phone
		email := "podatelna." + lowerID(r.id) + "@example-vezenska-sluzba.cz"
		out[i] = model.Prison{
			ID: r.id, Name: r.name, Kind: r.kind, Phone: &phone, Email: &email, Version: 1,
			Address: model.Address{Street: r.street, City: r.city, PostalCode: r.postal, Country: r.country},
		}
	}
	return out
}

func lowerID(id string) string {
	b := []byte(id)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// prisonsOfKind lists the IDs of the Czech prisons of a kind (generated persons are detained
// in the Czech Republic).
func prisonsOfKind(kind model.PrisonKind) []string {
	var out []string
	for _, r := range prisonRows {
		if r.kind == kind && r.country == "CZ" {
			out = append(out, r.id)
		}
	}
	return out
}
