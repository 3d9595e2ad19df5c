// Boot configuration files: JSON and TOML, defaults, replacement, errors, round trips.
#include "el3d/manifest/boot_config.hpp"

#include "el3d/platform/platform.hpp"
#include "tempdir.hpp"

#include <gtest/gtest.h>

using namespace el3d;
using namespace el3d::manifest;

namespace {

// The same configuration in both formats, exercising every key.
const char* kToml = R"toml(
faults = ["dram-unsorted", "console-checksum", "cpu-count"]

[manifest]
version = 5
plat_data = "0x0"
rc_info_version = 1

[[manifest.dram]]
base = 0x80000000
size = "2G"

[[manifest.dram]]
base = "0x880000000"
size = 2147483648

[[manifest.consoles]]
base = 0x1C0C0000
clk_in_hz = "14745600"
baud_rate = 115200

[[manifest.consoles]]
base = 0x1C0D0000
map_pages = 2
name = "uart1"
clk_in_hz = 24000000
baud_rate = 9600
flags = 0

[[manifest.smmus]]
base = 0x2B400000
r_base = 0x2B420000

[[manifest.root_complexes]]
ecam_base = 0x40000000
segment = 1
ports = [
	{ id = 8, bdfs = [{ base = 0, top = 0x7FFF }] },
	{ id = 0x10, bdfs = [{ base = 0x8000, top = 0xFFFF, off = 1, smmu_idx = 0 }] },
]

[fault_params]
dram_banks = 32
bad_version = "0x2"
core_count = 5000
shared_offset = 16
interface_version = 0x10000

[boot]
x1_version = 0x20000
x3_offset = "0x0"

[[gpt]]
base = 0xFFC00000
size = "3M"
pas = "root"

[[gpt]]
base = 0xFF000000
size = "1M"
pas = "secure"
)toml";

const char* kJson = R"json({
  "faults": ["dram-unsorted", "console-checksum", "cpu-count"],
  "manifest": {
    "version": 5, "plat_data": "0x0", "rc_info_version": 1,
    "dram": [{"base": 2147483648, "size": "2G"}, {"base": "0x880000000", "size": 2147483648}],
    "consoles": [
      {"base": "0x1C0C0000", "clk_in_hz": 14745600, "baud_rate": 115200},
      {"base": "0x1C0D0000", "map_pages": 2, "name": "uart1", "clk_in_hz": "24000000", "baud_rate": 9600, "flags": 0}
    ],
    "smmus": [{"base": "0x2B400000", "r_base": "0x2B420000"}],
    "root_complexes": [{"ecam_base": "0x40000000", "segment": 1, "ports": [
      {"id": 8, "bdfs": [{"base": 0, "top": "0x7FFF"}]},
      {"id": "0x10", "bdfs": [{"base": "0x8000", "top": 65535, "off": 1, "smmu_idx": 0}]}
    ]}]
  },
  "fault_params": {"dram_banks": 32, "bad_version": 2, "core_count": 5000, "shared_offset": 16,
                   "interface_version": "0x10000"},
  "boot": {"x1_version": "0x20000", "x3_offset": 0},
  "gpt": [{"base": "0xFFC00000", "size": "3M", "pas": "root"}, {"base": "0xFF000000", "size": "1M", "pas": "secure"}]
})json";

// The message of the ConfigError `text` raises, or "" if it parses.
std::string error_of(const std::string& text, Format fmt = Format::Toml, std::string_view platform = "fvp")
{
	try {
		parse_boot_config(text, fmt, platform);
	} catch (const ConfigError& e) {
		return e.what();
	}
	return "";
}

}  // namespace

TEST(manifest_config, EmptyFileIsThePlatformDefault)
{
	for (const auto& p : platform_profiles()) {
		const BootConfig d = default_boot_config(p.name);
		EXPECT_EQ(d.manifest, default_spec(p.name));
		EXPECT_TRUE(d.faults.empty());
		EXPECT_EQ(d.params, FaultParams{});
		EXPECT_EQ(d.boot, BootOverrides{});
		EXPECT_TRUE(d.gpt.empty());
		EXPECT_EQ(parse_boot_config("", Format::Toml, p.name), d);
		EXPECT_EQ(parse_boot_config("{}", Format::Json, p.name), d);
	}
	EXPECT_NE(error_of("", Format::Toml, "juno").find("unknown platform 'juno'"), std::string::npos);
}

TEST(manifest_config, JsonAndTomlParseToTheSameConfig)
{
	const BootConfig t = parse_boot_config(kToml, Format::Toml, "qemu");
	const BootConfig j = parse_boot_config(kJson, Format::Json, "qemu");
	EXPECT_EQ(t, j);

	EXPECT_EQ(t.faults, (std::vector<Fault>{Fault::DramUnsorted, Fault::ConsoleChecksum, Fault::CpuCount}));
	EXPECT_EQ(t.manifest.dram, (std::vector<Bank>{{0x80000000, 0x80000000}, {0x880000000, 0x80000000}}));
	ASSERT_EQ(t.manifest.consoles.size(), 2u);
	EXPECT_EQ(t.manifest.consoles[0], (Console{0x1C0C0000, 1, "pl011", 14745600, 115200, 0}));  // defaults filled
	EXPECT_EQ(t.manifest.consoles[1], (Console{0x1C0D0000, 2, "uart1", 24000000, 9600, 0}));
	EXPECT_EQ(t.manifest.smmus, (std::vector<Smmu>{{0x2B400000, 0x2B420000}}));
	ASSERT_EQ(t.manifest.root_complexes.size(), 1u);
	const RootComplex& rc = t.manifest.root_complexes[0];
	EXPECT_EQ(rc.ecam_base, 0x40000000u);
	EXPECT_EQ(rc.segment, 1u);
	ASSERT_EQ(rc.ports.size(), 2u);
	EXPECT_EQ(rc.ports[1].id, 0x10u);
	EXPECT_EQ(rc.ports[1].bdfs, (std::vector<BdfMapping>{{0x8000, 0xFFFF, 1, 0}}));
	// Lists the file does not mention keep the platform's values (qemu has none).
	EXPECT_TRUE(t.manifest.ncoh.empty());
	EXPECT_EQ(t.params, (FaultParams{32, 2, 5000, 16, 0x10000}));
	EXPECT_EQ(t.boot.x1_version, 0x20000u);
	EXPECT_EQ(t.boot.x2_core_count, std::nullopt);
	EXPECT_EQ(t.boot.x3_offset, 0u);
	EXPECT_EQ(t.gpt, (std::vector<PasRange>{{0xFFC00000, 0x300000, "root"}, {0xFF000000, 0x100000, "secure"}}));
}

TEST(manifest_config, AFileReplacesOnlyTheListsItNames)
{
	const BootConfig c =
	    parse_boot_config("[[manifest.dram]]\nbase = 0x80000000\nsize = \"1G\"\n", Format::Toml, "fvp");
	const Spec fvp = default_spec("fvp");
	EXPECT_EQ(c.manifest.dram, (std::vector<Bank>{{0x80000000, 0x40000000}}));
	EXPECT_EQ(c.manifest.consoles, fvp.consoles);
	EXPECT_EQ(c.manifest.ncoh, fvp.ncoh);
	EXPECT_EQ(c.manifest.root_complexes, fvp.root_complexes);
	// An empty list empties it.
	const BootConfig e =
	    parse_boot_config(R"({"manifest": {"smmus": [], "root_complexes": []}})", Format::Json, "fvp");
	EXPECT_TRUE(e.manifest.smmus.empty());
	EXPECT_TRUE(e.manifest.root_complexes.empty());
	EXPECT_EQ(e.manifest.dram, fvp.dram);
	// A list el3d leaves out by default (SMMUs: el3d backs no register pages) is there when a file names it.
	const BootConfig m = parse_boot_config(
	    R"({"manifest": {"smmus": [{"base": "0x2B400000", "r_base": "0x2B420000"}]}})", Format::Json, "fvp");
	EXPECT_EQ(m.manifest.smmus, platform_spec("fvp").smmus);
	// Duplicate faults collapse.
	EXPECT_EQ(parse_boot_config(R"(faults = ["dram-none", "dram-none"])", Format::Toml, "fvp").faults,
	          std::vector<Fault>{Fault::DramNone});
	// A configured but broken manifest is accepted: explaining it is validate_manifest's job.
	const BootConfig b = parse_boot_config("[[manifest.dram]]\nbase = 0\nsize = 0x800\n", Format::Toml, "fvp");
	EXPECT_EQ(b.manifest.dram, (std::vector<Bank>{{0, 0x800}}));
}

TEST(manifest_config, BadConfigsNameTheKey)
{
	struct Case {
		std::string text;
		Format fmt;
		std::string expect;  // a substring of the message
	};
	const std::vector<Case> cases{
	    {"colour = 1", Format::Toml, "colour: unknown key"},
	    {"[manifest]\nbanks = []", Format::Toml, "manifest.banks: unknown key"},
	    {"[[manifest.dram]]\nbase = 0x1000\nsise = 1", Format::Toml, "manifest.dram[0].sise: unknown key"},
	    {"[[manifest.dram]]\nbase = 0x1000", Format::Toml, "manifest.dram[0].size: missing"},
	    {"[[manifest.dram]]\nbase = 0x1000\nsize = \"lots\"", Format::Toml,
	     "manifest.dram[0].size: expected a number"},
	    {"[[manifest.dram]]\nbase = 0x1000\nsize = -4096", Format::Toml,
	     "manifest.dram[0].size: must not be negative"},
	    {"[[manifest.dram]]\nbase = 0x1000\nsize = 4096.0", Format::Toml,
	     "manifest.dram[0].size: expected a number"},
	    {"[[manifest.dram]]\nbase = 0x1000\nsize = true", Format::Toml, "manifest.dram[0].size: expected a number"},
	    {"[[manifest.dram]]\nbase = 0x1000\nsize = 1979-05-27", Format::Toml, "manifest.dram[0].size: dates"},
	    {R"({"manifest": {"dram": [{"base": 1, "size": "99999999999T"}]}})", Format::Json,
	     "manifest.dram[0].size: expected a number"},
	    {R"({"manifest": {"dram": {"base": 1, "size": 1}}})", Format::Json, "manifest.dram: expected a list"},
	    {R"({"manifest": {"version": "0x100000000"}})", Format::Json,
	     "manifest.version: 0x100000000 is out of range"},
	    {R"({"manifest": {"consoles": [{"base": 1, "clk_in_hz": 1, "baud_rate": 1, "name": "pl011_long"}]}})",
	     Format::Json, "manifest.consoles[0].name"},
	    {R"({"manifest": {"consoles": [{"base": 1, "clk_in_hz": 1, "baud_rate": 1, "name": 7}]}})", Format::Json,
	     "manifest.consoles[0].name: expected a string"},
	    {R"({"manifest": {"consoles": [{"base": 1, "baud_rate": 1}]}})", Format::Json,
	     "manifest.consoles[0].clk_in_hz: missing"},
	    {R"({"manifest": {"smmus": [{"base": 1}]}})", Format::Json, "manifest.smmus[0].r_base: missing"},
	    {R"({"manifest": {"root_complexes": [{"ecam_base": 1, "segment": 256, "ports": []}]}})", Format::Json,
	     "manifest.root_complexes[0].segment: 0x100 is out of range"},
	    {R"({"manifest": {"root_complexes": [{"ecam_base": 1, "ports": [{"id": 1, "bdfs": [{"base": 0,)"
	     R"( "top": 65536}]}]}]}})",
	     Format::Json, "manifest.root_complexes[0].ports[0].bdfs[0].top: 0x10000 is out of range"},
	    {R"({"manifest": {"root_complexes": [{"ecam_base": 1, "ports": [{"id": 1}]}]}})", Format::Json,
	     "manifest.root_complexes[0].ports[0].bdfs: missing"},
	    {R"(faults = ["dram-checksum", "dram-sideways"])", Format::Toml,
	     "faults[1]: unknown fault 'dram-sideways'"},
	    {R"(faults = "dram-none")", Format::Toml, "faults: expected a list"},
	    {"[fault_params]\ndram_banks = 0", Format::Toml, "fault_params.dram_banks: must be at least 1"},
	    {"[fault_params]\ndram_banks = 1000", Format::Toml, "fault_params.dram_banks: 0x3e8 is out of range"},
	    {"[fault_params]\nbanks = 3", Format::Toml, "fault_params.banks: unknown key"},
	    {"[boot]\nx4 = 3", Format::Toml, "boot.x4: unknown key"},
	    {"[boot]\nx2_core_count = \"many\"", Format::Toml, "boot.x2_core_count: expected a number"},
	    {"[[gpt]]\nbase = 0x1000\nsize = 0x1000\npas = \"other\"", Format::Toml, "gpt[0].pas: unknown PAS 'other'"},
	    {"[[gpt]]\nbase = 0x1800\nsize = 0x1000\npas = \"root\"", Format::Toml, "gpt[0].base: 0x1800 is not 4 KiB"},
	    {"[[gpt]]\nbase = 0x1000\nsize = 0\npas = \"root\"", Format::Toml, "gpt[0].size"},
	    {"[[gpt]]\nbase = 0x1000\nsize = 0x2000\npas = \"root\"\n[[gpt]]\nbase = 0x2000\nsize = 0x1000\npas = "
	     "\"ns\"",
	     Format::Toml, "gpt[1]: overlaps gpt[0]"},
	    {"[[gpt]]\nbase = 0x1000\nsize = 0x1000", Format::Toml, "gpt[0].pas: missing"},
	    {"[[gpt]]\nbase = \"0xFFFFFFFFFFFFF000\"\nsize = 0x2000\npas = \"ns\"", Format::Toml,
	     "gpt[0]: base + size wraps"},
	    {"[]", Format::Json, "expected a table"},
	    {"{\"manifest\": ", Format::Json, "invalid JSON"},
	    {"[manifest\nversion = 5", Format::Toml, "invalid TOML"},
	    {"manifest = 5", Format::Toml, "manifest: expected a table"},
	};
	for (const auto& c : cases) {
		const std::string msg = error_of(c.text, c.fmt);
		EXPECT_NE(msg.find(c.expect), std::string::npos) << "config:\n" << c.text << "\nmessage: " << msg;
	}
}

TEST(manifest_config, RoundTripsThroughJson)
{
	for (const auto& p : platform_profiles()) {
		SCOPED_TRACE(std::string(p.name));
		const BootConfig d = default_boot_config(p.name);
		EXPECT_EQ(parse_boot_config(to_json(d), Format::Json, p.name), d);
		// The output lists every list, so it reads back the same on any platform.
		EXPECT_EQ(parse_boot_config(to_json(d), Format::Json, "qemu"), d);
	}
	BootConfig full = parse_boot_config(kToml, Format::Toml, "fvp");
	full.boot.x2_core_count = 12;
	full.manifest.plat_data = 0xFFFFFFFFFFFFF000;
	full.manifest.coh = {{0x1000, 0x1000}};
	const std::string text = to_json(full);
	EXPECT_EQ(parse_boot_config(text, Format::Json, "qemu-sbsa"), full);
	EXPECT_NE(text.find("\"base\": \"0x80000000\""), std::string::npos) << text;
	EXPECT_NE(text.find("\"dram-unsorted\""), std::string::npos);
	// Printing is stable.
	EXPECT_EQ(to_json(parse_boot_config(text, Format::Json, "fvp")), text);
}

TEST(manifest_config, LoadPicksTheFormatFromTheExtension)
{
	test::TempDir dir;
	test::write_file(dir.file("boot.toml"), kToml);
	test::write_file(dir.file("boot.JSON"), kJson);
	test::write_file(dir.file("boot.yaml"), "faults: []");
	test::write_file(dir.file("bad.toml"), "[[manifest.dram]]\nbase = 1\n");
	const BootConfig t = load_boot_config(dir.file("boot.toml"), "fvp");
	EXPECT_EQ(t, load_boot_config(dir.file("boot.JSON"), "fvp"));
	EXPECT_EQ(t.params.dram_banks, 32u);

	auto message = [&](const std::string& path) {
		try {
			load_boot_config(path, "fvp");
		} catch (const ConfigError& e) {
			return std::string(e.what());
		}
		return std::string();
	};
	EXPECT_NE(message(dir.file("boot.yaml")).find(".json or .toml"), std::string::npos);
	EXPECT_NE(message(dir.file("missing.toml")).find("cannot open"), std::string::npos);
	const std::string bad = message(dir.file("bad.toml"));
	EXPECT_NE(bad.find(dir.file("bad.toml") + ": manifest.dram[0].size: missing"), std::string::npos) << bad;
}

TEST(manifest_config, TheConfigBuildsTheManifestItDescribes)
{
	const BootConfig c = parse_boot_config(kToml, Format::Toml, "fvp");
	const auto page = build_manifest(c, 0xFFBFF000);
	// Data faults are in the page, the checksum fault too; decoding shows the unsorted banks.
	const Spec got = decode_manifest(page, 0xFFBFF000);
	EXPECT_EQ(got.dram, (std::vector<Bank>{c.manifest.dram[1], c.manifest.dram[0]}));
	const auto v = validate_manifest(page, 0xFFBFF000, 40);
	EXPECT_TRUE(v.has("dram-unsorted"));
	EXPECT_TRUE(v.has("console-checksum"));
	EXPECT_EQ(v.problems.size(), 2u) << v.describe();
}

// A configuration may come from a client over the socket: inputs that crashed toml11 (a stack overflow
// from deep nesting, a heap over-read on invalid UTF-8, a dotted key into an array) are refused with a
// clear error.
TEST(manifest_config, HostileInputIsRefusedBeforeParsing)
{
	const std::string deep(6000, '[');
	for (Format f : {Format::Toml, Format::Json}) {
		try {
			parse_boot_config("a = " + deep, f, "fvp");
			ADD_FAILURE() << "deep nesting accepted";
		} catch (const ConfigError& e) {
			EXPECT_NE(std::string(e.what()).find("nests"), std::string::npos) << e.what();
		}
	}
	try {
		parse_boot_config("a = '\xff'\n", Format::Toml, "fvp");
		ADD_FAILURE() << "invalid UTF-8 accepted";
	} catch (const ConfigError& e) {
		EXPECT_NE(std::string(e.what()).find("not valid UTF-8 (byte 5)"), std::string::npos) << e.what();
	}
	EXPECT_THROW(parse_boot_config(std::string((1u << 20) + 1, ' '), Format::Json, "fvp"), ConfigError);
	// A dotted key into an existing array (toml11 called back() on the empty array: SIGSEGV).
	try {
		parse_boot_config("a = []\na.b = 1\n", Format::Toml, "fvp");
		ADD_FAILURE() << "a dotted key into an array accepted";
	} catch (const ConfigError& e) {
		EXPECT_NE(std::string(e.what()).find("invalid TOML"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
	}
	// A table header whose key starts with a character no key may start with: toml++ asserts on it in
	// a build without NDEBUG (found by fuzzing); el3d turns its asserts off, and it is a parse error.
	try {
		parse_boot_config("a = 1\n[$]\nb = 2\n", Format::Toml, "fvp");
		ADD_FAILURE() << "a table header with a bad key accepted";
	} catch (const ConfigError& e) {
		EXPECT_NE(std::string(e.what()).find("invalid TOML"), std::string::npos) << e.what();
	}
	// Brackets inside strings and comments do not count, and real configurations still parse.
	EXPECT_NO_THROW(parse_boot_config("# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nfaults = [\"dram-checksum\"] # ]]]]\n",
	                                  Format::Toml, "fvp"));
	try {  // an unknown key, but not too deep: its string's braces are not nesting
		parse_boot_config(R"({"faults": ["dram-checksum"], "x": "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"})", Format::Json,
		                  "fvp");
		ADD_FAILURE() << "unknown key accepted";
	} catch (const ConfigError& e) {
		EXPECT_NE(std::string(e.what()).find("x: unknown key"), std::string::npos) << e.what();
	}
}

// toml++ 3.3 asks whether a non-ASCII character where it expects whitespace is Unicode whitespace, and for
// U+00A1..U+0499, U+2C5E..U+3057 (but U+3000) and U+FB26..U+FEFE that test is undefined behaviour
// (__builtin_unreachable; found by fuzz_boot_config). A TOML file with one of them is refused before toml++ reads
// it, wherever it is: an invalid value before a string makes toml++ read the string's characters that way too.
TEST(manifest_config, TomlCharactersTomlppCannotReadAreRefusedBeforeParsing)
{
	const std::pair<const char*, const char*> cases[] = {
	    {"\xC5\x80", "U+0140 (line 1)"},                  // alone
	    {"faults = []\n\xC3\xA9\n", "U+00E9 (line 2)"},  // after a value
	    {"g=-='''`\xEF\xBB\xBB", "U+FEFB (line 1)"},      // in a string after an invalid value
	    {"# \xE3\x80\x81\n", "U+3001 (line 1)"},          // in a comment
	    {"a = \"\xD2\x99\"\n", "U+0499 (line 1)"}};       // in a string
	for (const auto& [text, what] : cases) {
		try {
			parse_boot_config(text, Format::Toml, "fvp");
			ADD_FAILURE() << "accepted: " << text;
		} catch (const ConfigError& e) {
			EXPECT_NE(std::string(e.what()).find(std::string("cannot read the character ") + what), std::string::npos)
			    << e.what();
		}
	}
	// Other non-ASCII characters go to toml++ (refused outside strings and comments by its grammar), and the same
	// characters in JSON go to the JSON parser.
	EXPECT_NO_THROW(parse_boot_config("# \xE3\x80\x80 \xC2\xA0 \xD2\x9A \xEF\xBB\xBF\nfaults = [] # \xF0\x9F\x98\x80\n",
	                                  Format::Toml, "fvp"));
	EXPECT_THROW(parse_boot_config("faults = []\xD2\x9A\n", Format::Toml, "fvp"), ConfigError);
	try {
		parse_boot_config("{\"x\": \"\xC5\x80\"}", Format::Json, "fvp");
		ADD_FAILURE() << "unknown key accepted";
	} catch (const ConfigError& e) {
		EXPECT_NE(std::string(e.what()).find("x: unknown key"), std::string::npos) << e.what();
	}
}

// A manifest decoded from a shared page may name a console with bytes that are not UTF-8; to_json() (what
// `el3ctl manifest --json` prints) writes them as U+FFFD instead of throwing (found by fuzz_manifest).
TEST(manifest_config, ToJsonOfANonUtf8ConsoleNameIsValidJson)
{
	BootConfig c = default_boot_config("fvp");
	c.manifest.consoles = {Console{.base = 0x1C0C0000, .name = "pl\x80"}};
	std::string out;
	ASSERT_NO_THROW(out = to_json(c));
	const BootConfig back = parse_boot_config(out, Format::Json, "fvp");
	ASSERT_EQ(back.manifest.consoles.size(), 1u);
	EXPECT_EQ(back.manifest.consoles[0].name, "pl\xEF\xBF\xBD");
}
