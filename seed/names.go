package seed

// nameSet is a country's name pool; family names come in male/female pairs where the language
// inflects them (Czech and Slovak -ová forms, Polish -ska).
type nameSet struct {
	country     string
	male        []string
	female      []string
	family      [][2]string // male, female
	birthPlaces []string
}

var nameSets = []nameSet{
	{
		country: "CZ",
		male:    []string{"Jan", "Petr", "Jiří", "Pavel", "Tomáš", "Martin", "Josef", "Lukáš", "Jaroslav", "Miroslav", "Zdeněk", "Václav", "Michal", "František", "Jakub", "Ondřej", "Radek", "Vojtěch", "Dušan", "Štěpán"},
		female:  []string{"Marie", "Jana", "Eva", "Hana", "Anna", "Lenka", "Kateřina", "Věra", "Lucie", "Alena", "Petra", "Veronika", "Jaroslava", "Tereza", "Zuzana", "Michaela", "Šárka", "Božena", "Irena", "Květa"},
		family: [][2]string{{"Novák", "Nováková"}, {"Svoboda", "Svobodová"}, {"Novotný", "Novotná"}, {"Dvořák", "Dvořáková"}, {"Černý", "Černá"},
			{"Procházka", "Procházková"}, {"Kučera", "Kučerová"}, {"Veselý", "Veselá"}, {"Horák", "Horáková"}, {"Němec", "Němcová"},
			{"Pokorný", "Pokorná"}, {"Marek", "Marková"}, {"Pospíšil", "Pospíšilová"}, {"Hájek", "Hájková"}, {"Jelínek", "Jelínková"},
			{"Král", "Králová"}, {"Růžička", "Růžičková"}, {"Beneš", "Benešová"}, {"Fiala", "Fialová"}, {"Sedláček", "Sedláčková"},
			{"Doležal", "Doležalová"}, {"Zeman", "Zemanová"}, {"Kolář", "Kolářová"}, {"Navrátil", "Navrátilová"}, {"Čermák", "Čermáková"},
			{"Urban", "Urbanová"}, {"Vaněk", "Vaňková"}, {"Blažek", "Blažková"}, {"Kříž", "Křížová"}, {"Kovář", "Kovářová"}},
		birthPlaces: []string{"Praha", "Brno", "Ostrava", "Plzeň", "Liberec", "Olomouc", "České Budějovice", "Hradec Králové", "Ústí nad Labem", "Pardubice", "Zlín", "Kladno", "Most", "Jihlava", "Třebíč"},
	},
	{
		country: "SK",
		male:    []string{"Ján", "Peter", "Martin", "Jozef", "Michal", "Marek", "Ľubomír", "Dušan", "Milan", "Štefan", "Ľuboš", "Matej"},
		female:  []string{"Mária", "Zuzana", "Katarína", "Ľudmila", "Eva", "Jana", "Monika", "Lucia", "Veronika", "Dáša"},
		family: [][2]string{{"Horváth", "Horváthová"}, {"Kováč", "Kováčová"}, {"Varga", "Vargová"}, {"Tóth", "Tóthová"}, {"Nagy", "Nagyová"},
			{"Baláž", "Balážová"}, {"Szabó", "Szabóová"}, {"Molnár", "Molnárová"}, {"Lukáč", "Lukáčová"}, {"Šimko", "Šimková"}, {"Ďurica", "Ďuricová"}, {"Kráľ", "Kráľová"}},
		birthPlaces: []string{"Bratislava", "Košice", "Prešov", "Žilina", "Nitra", "Banská Bystrica", "Trnava", "Martin", "Trenčín", "Poprad"},
	},
	{
		country: "PT",
		male:    []string{"João", "José", "António", "Francisco", "Luís", "Tiago", "Gonçalo", "Rúben"},
		female:  []string{"Maria", "Ana", "Beatriz", "Inês", "Mariana", "Joana", "Sofia", "Conceição"},
		family: [][2]string{{"Silva", "Silva"}, {"Santos", "Santos"}, {"Ferreira", "Ferreira"}, {"Pereira", "Pereira"}, {"Oliveira", "Oliveira"},
			{"Costa", "Costa"}, {"Rodrigues", "Rodrigues"}, {"Martins", "Martins"}, {"Gonçalves", "Gonçalves"}, {"Lopes", "Lopes"}},
		birthPlaces: []string{"Lisboa", "Porto", "Braga", "Coimbra", "Setúbal", "Faro", "Évora"},
	},
	{
		country: "PL",
		male:    []string{"Łukasz", "Paweł", "Krzysztof", "Tomasz", "Michał", "Grzegorz"},
		female:  []string{"Małgorzata", "Agnieszka", "Katarzyna", "Żaneta", "Joanna"},
		family: [][2]string{{"Kowalski", "Kowalska"}, {"Wiśniewski", "Wiśniewska"}, {"Wójcik", "Wójcik"}, {"Kamiński", "Kamińska"},
			{"Lewandowski", "Lewandowska"}, {"Zieliński", "Zielińska"}},
		birthPlaces: []string{"Kraków", "Wrocław", "Katowice", "Łódź", "Gdańsk", "Poznań"},
	},
	{
		country:     "DE",
		male:        []string{"Jürgen", "Günter", "Jörg", "Björn", "Uwe", "Klaus"},
		female:      []string{"Jörgina", "Käthe", "Bärbel", "Ute", "Sabine"},
		family:      [][2]string{{"Müller", "Müller"}, {"Schäfer", "Schäfer"}, {"Köhler", "Köhler"}, {"Weiß", "Weiß"}, {"Groß", "Groß"}, {"Meißner", "Meißner"}},
		birthPlaces: []string{"Dresden", "München", "Nürnberg", "Leipzig", "Regensburg"},
	},
	{
		country:     "UA",
		male:        []string{"Oleksandr", "Andrii", "Serhii", "Dmytro"},
		female:      []string{"Olena", "Kateryna", "Iryna", "Oksana"},
		family:      [][2]string{{"Shevchenko", "Shevchenko"}, {"Kovalenko", "Kovalenko"}, {"Bondarenko", "Bondarenko"}, {"Tkachenko", "Tkachenko"}},
		birthPlaces: []string{"Kyiv", "Lviv", "Kharkiv", "Odesa", "Uzhhorod"},
	},
}

// streets are residence streets by country.
var streets = map[string][]string{
	"CZ": {"Nádražní", "Husova", "Palackého", "Komenského", "Masarykova", "Školní", "Zahradní", "Lipová", "Jiráskova", "Sokolská"},
	"SK": {"Hlavná", "Štúrova", "Záhradnícka", "Mierová", "Hviezdoslavova"},
	"PT": {"Rua Augusta", "Avenida da Liberdade", "Rua de Santa Catarina", "Rua do Carmo"},
	"PL": {"ulica Długa", "ulica Piękna", "ulica Świętokrzyska"},
	"DE": {"Hauptstraße", "Bahnhofstraße", "Schloßstraße"},
	"UA": {"vulytsia Shevchenka", "vulytsia Franka"},
}

type offenceDef struct {
	provision, description, category string
	intentional                      bool
	imprisonmentMonths               [2]int // typical range
}

var offenceCatalogue = []offenceDef{
	{"§ 205 odst. 1 TZ", "krádež", "0801 00", true, [2]int{6, 24}},
	{"§ 205 odst. 3 TZ", "krádež (opakovaná)", "0801 00", true, [2]int{12, 48}},
	{"§ 209 odst. 1 TZ", "podvod", "0804 00", true, [2]int{6, 36}},
	{"§ 146 odst. 1 TZ", "ublížení na zdraví", "0302 00", true, [2]int{6, 36}},
	{"§ 145 odst. 1 TZ", "těžké ublížení na zdraví", "0302 00", true, [2]int{36, 120}},
	{"§ 148 odst. 1 TZ", "ublížení na zdraví z nedbalosti", "0303 00", false, [2]int{3, 12}},
	{"§ 143 odst. 1 TZ", "usmrcení z nedbalosti", "0104 00", false, [2]int{12, 48}},
	{"§ 173 odst. 1 TZ", "loupež", "0803 00", true, [2]int{24, 120}},
	{"§ 283 odst. 1 TZ", "nedovolená výroba a jiné nakládání s omamnými a psychotropními látkami", "0701 00", true, [2]int{12, 60}},
	{"§ 274 odst. 1 TZ", "ohrožení pod vlivem návykové látky", "1401 00", true, [2]int{3, 12}},
	{"§ 337 odst. 1 TZ", "maření výkonu úředního rozhodnutí a vykázání", "1101 00", true, [2]int{3, 24}},
	{"§ 228 odst. 1 TZ", "poškození cizí věci", "0810 00", true, [2]int{3, 12}},
	{"§ 140 odst. 1 TZ", "vražda", "0101 00", true, [2]int{120, 216}},
	{"§ 212 ods. 1 TZ SK", "krádež", "0801 00", true, [2]int{6, 24}},
	{"Art. 203.º CP", "furto", "0801 00", true, [2]int{6, 36}},
}

var courts = []string{
	"Obvodní soud pro Prahu 1", "Obvodní soud pro Prahu 4", "Městský soud v Brně", "Okresní soud v Ostravě",
	"Okresní soud Plzeň-město", "Krajský soud v Plzni", "Krajský soud v Hradci Králové", "Okresní soud v Olomouci",
	"Okresní soud v Liberci", "Krajský soud v Brně", "Městský soud v Praze", "Okresní soud v Českých Budějovicích",
}

var prosecutionOffices = []string{
	"Městské státní zastupitelství v Praze", "Krajské státní zastupitelství v Brně", "Okresní státní zastupitelství v Ostravě",
	"Okresní státní zastupitelství Plzeň-město", "Krajské státní zastupitelství v Hradci Králové",
}
