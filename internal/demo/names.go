package demo

// This file is data: names and places for synthetic people. The names are
// common given names and surnames; any resemblance of a generated person to a
// real one is coincidence. Street names are generic; telephone numbers use the
// 555-0100..555-0199 block reserved for fiction and e-mail addresses use the
// example.com and example.org domains reserved by RFC 2606.

// nameGroup is a cultural naming tradition with its own name lists.
type nameGroup uint8

const (
	groupUS nameGroup = iota
	groupHispanic
	groupVietnamese
	groupChinese
	groupFrench
)

// Given names of US-born people, by the period in which they were popular.
var (
	femaleOlder = []string{
		"Mary", "Patricia", "Linda", "Barbara", "Betty", "Dorothy", "Margaret", "Shirley", "Joan", "Judith",
		"Carol", "Sandra", "Donna", "Sharon", "Helen", "Ruth", "Virginia", "Frances", "Joyce", "Martha",
		"Gloria", "Evelyn", "Jean", "Alice", "Marilyn", "Beverly", "Doris", "Janet", "Nancy", "Phyllis",
		"Norma", "Peggy", "Elaine",
	}
	femaleMiddle = []string{
		"Jennifer", "Jessica", "Sarah", "Karen", "Lisa", "Michelle", "Amanda", "Melissa", "Stephanie", "Rebecca",
		"Laura", "Angela", "Amy", "Kimberly", "Heather", "Nicole", "Christina", "Rachel", "Julie", "Kelly",
		"Andrea", "Megan", "Danielle", "Erin", "Tiffany", "Crystal", "Lauren", "Brittany", "Kristen", "Monica",
	}
	femaleYounger = []string{
		"Emma", "Olivia", "Ava", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia", "Harper", "Abigail",
		"Emily", "Elizabeth", "Madison", "Avery", "Ella", "Scarlett", "Grace", "Chloe", "Hannah", "Lily",
		"Aria", "Zoey", "Nora", "Layla", "Riley", "Hazel", "Aubrey", "Addison", "Natalie", "Stella", "Leah",
	}
	maleOlder = []string{
		"James", "Robert", "John", "William", "Richard", "Charles", "Joseph", "Thomas", "Donald", "George",
		"Kenneth", "Ronald", "Gary", "Larry", "Dennis", "Jerry", "Frank", "Raymond", "Roger", "Walter",
		"Harold", "Gerald", "Carl", "Arthur", "Lawrence", "Wayne", "Ralph", "Eugene", "Russell", "Bobby",
		"Howard", "Fred",
	}
	maleMiddle = []string{
		"Michael", "David", "Christopher", "Matthew", "Daniel", "Joshua", "Brian", "Jason", "Kevin", "Steven",
		"Mark", "Paul", "Andrew", "Eric", "Jeffrey", "Ryan", "Timothy", "Scott", "Justin", "Brandon",
		"Jonathan", "Adam", "Nathan", "Aaron", "Kyle", "Travis", "Derek", "Shawn", "Gregory", "Sean",
	}
	maleYounger = []string{
		"Liam", "Noah", "Oliver", "Elijah", "Lucas", "Mason", "Logan", "Ethan", "Aiden", "Jackson",
		"Henry", "Owen", "Wyatt", "Caleb", "Levi", "Jayden", "Grayson", "Isaac", "Dylan", "Hunter",
		"Carter", "Jack", "Luke", "Gabriel", "Julian", "Lincoln", "Eli", "Hudson", "Landon", "Ezra",
	}
)

// Given names of the other naming traditions, used at any age.
var (
	femaleHispanic = []string{
		"María", "Guadalupe", "Rosa", "Carmen", "Ana", "Juana", "Verónica", "Alejandra", "Gabriela", "Adriana",
		"Daniela", "Mariana", "Valeria", "Ximena", "Lucía", "Camila", "Sofía", "Isabel", "Yesenia", "Leticia",
		"Elena", "Marisol", "Araceli", "Paola", "Fernanda", "Beatriz",
	}
	maleHispanic = []string{
		"José", "Juan", "Luis", "Carlos", "Jesús", "Miguel", "Jorge", "Francisco", "Alejandro", "Pedro",
		"Manuel", "Ricardo", "Roberto", "Javier", "Fernando", "Eduardo", "Antonio", "Raúl", "Sergio", "Mateo",
		"Santiago", "Diego", "Emiliano", "Rafael", "Héctor", "Arturo",
	}
	femaleVietnamese = []string{"Linh", "Lan", "Mai", "Hoa", "Thu", "Huong", "Ngoc", "Trang", "Thao", "Nga", "Phuong", "Anh"}
	maleVietnamese   = []string{"Minh", "Tuan", "Hung", "Dung", "Khanh", "Long", "Quang", "Thanh", "Hieu", "Duc", "Bao", "Phuc"}
	femaleChinese    = []string{"Mei", "Xiuying", "Jing", "Yan", "Hui", "Ling", "Xiaoling", "Fang", "Min", "Yun", "Lihua", "Qian"}
	maleChinese      = []string{"Wei", "Jun", "Hao", "Lei", "Ming", "Jian", "Tao", "Yong", "Qiang", "Bo", "Zhiwei", "Chao"}
	femaleFrench     = []string{"Camille", "Chloé", "Léa", "Manon", "Inès", "Juliette", "Élodie", "Margaux", "Sylvie", "Nathalie", "Isabelle", "Céline"}
	maleFrench       = []string{"Jean", "Pierre", "Louis", "Théo", "Hugo", "Julien", "Mathieu", "Nicolas", "Antoine", "Étienne", "Olivier", "Laurent"}
)

// Surnames by naming tradition.
var (
	surnamesUS = []string{
		"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
		"Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
		"Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams",
		"Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
		"Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper",
		"Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson",
		"Brooks", "Bennett", "Gray", "James", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross",
		"Foster", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Fisher", "Henderson", "Coleman", "Simmons",
		"Patterson", "Jordan", "Reynolds", "Hamilton", "Graham", "Wallace", "Cole", "West", "Stone", "Hayes",
		"Gibson", "Bryant", "Ellis", "Murray", "Ford", "Marshall", "Owens", "Kowalski", "Nowak", "Schmidt",
		"Mueller", "O'Brien", "O'Connor", "Washington", "Kim", "Patel", "Shah", "Khan", "Singh", "Cohen",
		"Greenberg", "Rossi", "Russo", "Novak", "Jablonski", "Olson", "Larson", "Hansen",
	}
	surnamesHispanic = []string{
		"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres",
		"Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales", "Cruz", "Ortiz", "Gutiérrez", "Chávez",
		"Ramos", "Ruiz", "Álvarez", "Mendoza", "Castillo", "Jiménez", "Vásquez", "Moreno", "Romero", "Herrera",
		"Medina", "Aguilar", "Vargas", "Guzmán", "Salazar", "Castro", "Delgado", "Navarro", "Soto", "Contreras",
		"Espinoza",
	}
	surnamesVietnamese = []string{"Nguyen", "Tran", "Le", "Pham", "Hoang", "Huynh", "Phan", "Vu", "Vo", "Dang", "Bui", "Do", "Ngo", "Duong", "Ly"}
	surnamesChinese    = []string{"Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Lin"}
	surnamesFrench     = []string{"Bernard", "Dubois", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Fontaine", "Rousseau", "Girard", "Bonnet"}
)

// language is a preferred language of communication.
type language struct {
	Code, Display string
	Group         nameGroup // the naming tradition most of its speakers here share
	Weight        int       // share of patients, in per mille
}

var languages = []language{
	{"en", "English", groupUS, 720},
	{"es", "Spanish", groupHispanic, 200},
	{"vi", "Vietnamese", groupVietnamese, 30},
	{"zh", "Chinese", groupChinese, 30},
	{"fr", "French", groupFrench, 20},
}

// place is a town near the clinic with one of its ZIP codes.
type place struct {
	City, Zip, AreaCode string
	Weight              int    // share of patients, in any unit
	Lang                string // language whose speakers favour this place, or ""
}

var places = []place{
	{City: "Riverside", Zip: "60546", AreaCode: "708", Weight: 14},
	{City: "North Riverside", Zip: "60546", AreaCode: "708", Weight: 5},
	{City: "Berwyn", Zip: "60402", AreaCode: "708", Weight: 14, Lang: "es"},
	{City: "Cicero", Zip: "60804", AreaCode: "708", Weight: 12, Lang: "es"},
	{City: "Brookfield", Zip: "60513", AreaCode: "708", Weight: 9},
	{City: "La Grange", Zip: "60525", AreaCode: "708", Weight: 7},
	{City: "La Grange Park", Zip: "60526", AreaCode: "708", Weight: 4},
	{City: "Lyons", Zip: "60534", AreaCode: "708", Weight: 4, Lang: "es"},
	{City: "Forest Park", Zip: "60130", AreaCode: "708", Weight: 5},
	{City: "Oak Park", Zip: "60302", AreaCode: "708", Weight: 6},
	{City: "Western Springs", Zip: "60558", AreaCode: "708", Weight: 3},
	{City: "Westchester", Zip: "60154", AreaCode: "708", Weight: 3},
	{City: "Summit", Zip: "60501", AreaCode: "708", Weight: 3, Lang: "es"},
	{City: "Chicago", Zip: "60623", AreaCode: "773", Weight: 4, Lang: "es"},
	{City: "Chicago", Zip: "60608", AreaCode: "312", Weight: 3, Lang: "es"},
	{City: "Chicago", Zip: "60616", AreaCode: "312", Weight: 2, Lang: "zh"},
	{City: "Chicago", Zip: "60640", AreaCode: "773", Weight: 2, Lang: "vi"},
}

var streetNames = []string{
	"Maple", "Oak", "Cedar", "Elm", "Pine", "Walnut", "Chestnut", "Willow", "Birch", "Hickory",
	"Sycamore", "Aspen", "Linden", "Magnolia", "Juniper", "Lakeview", "Riverbend", "Meadow", "Prairie", "Orchard",
	"Harvest", "Sunset", "Hillcrest", "Ridgeway", "Fairview", "Brookside", "Stonegate", "Foxglove", "Larkspur", "Bluebell",
	"Heron", "Kingfisher", "Sparrow", "Whitmore", "Ashford", "Kensington", "Wexford", "Harrow", "Thornbury", "Copperfield",
}

var streetSuffixes = []string{"Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Boulevard", "Way", "Terrace"}

// timeZone is a patient's home time zone, weighted in per mille.
type timeZone struct {
	Name   string
	Weight int
}

var timeZones = []timeZone{
	{"America/Chicago", 920},
	{"America/New_York", 25},
	{"America/Denver", 15},
	{"America/Phoenix", 20},
	{"America/Los_Angeles", 20},
}

// quietHours are common do-not-disturb windows, local time.
var quietHours = [][2]string{
	{"21:00:00", "08:00:00"},
	{"21:00:00", "08:00:00"},
	{"21:00:00", "08:00:00"},
	{"22:00:00", "07:00:00"},
	{"20:00:00", "09:00:00"},
	{"23:00:00", "07:30:00"},
}

// givenNames returns the given-name list for a person of sex s born in year
// born who belongs to naming group grp.
func givenNames(s sex, grp nameGroup, born int) []string {
	f := s == female
	switch grp {
	case groupHispanic:
		return pick2(f, femaleHispanic, maleHispanic)
	case groupVietnamese:
		return pick2(f, femaleVietnamese, maleVietnamese)
	case groupChinese:
		return pick2(f, femaleChinese, maleChinese)
	case groupFrench:
		return pick2(f, femaleFrench, maleFrench)
	}
	switch {
	case born < 1966:
		return pick2(f, femaleOlder, maleOlder)
	case born < 1996:
		return pick2(f, femaleMiddle, maleMiddle)
	default:
		return pick2(f, femaleYounger, maleYounger)
	}
}

func pick2(first bool, a, b []string) []string {
	if first {
		return a
	}
	return b
}

// surnames returns the surname list of naming group grp.
func surnames(grp nameGroup) []string {
	switch grp {
	case groupHispanic:
		return surnamesHispanic
	case groupVietnamese:
		return surnamesVietnamese
	case groupChinese:
		return surnamesChinese
	case groupFrench:
		return surnamesFrench
	}
	return surnamesUS
}

// asciiFold maps the accented letters used in the name lists to ASCII, for
// e-mail addresses.
var asciiFold = map[rune]string{
	'á': "a", 'é': "e", 'í': "i", 'ó': "o", 'ú': "u", 'ñ': "n", 'ü': "u",
	'Á': "a", 'É': "e", 'Í': "i", 'Ó': "o", 'Ú': "u", 'Ñ': "n",
	'è': "e", 'ê': "e", 'ë': "e", 'à': "a", 'â': "a", 'ç': "c", 'ï': "i", 'î': "i", 'ô': "o", 'û': "u",
}

// emailLocal turns a name into the lower-case ASCII letters of an e-mail
// address's local part, dropping anything else (spaces, apostrophes).
func emailLocal(name string) string {
	out := make([]byte, 0, len(name))
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			out = append(out, byte(r))
		case r >= 'A' && r <= 'Z':
			out = append(out, byte(r-'A'+'a'))
		default:
			out = append(out, asciiFold[r]...)
		}
	}
	return string(out)
}
