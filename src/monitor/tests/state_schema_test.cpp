// A carveout file whose state document passes its checksum but holds something el3d never wrote (a
// string where a number belongs, a key of the wrong size) is refused as corrupt metadata, naming the
// field, and left byte-for-byte as it was.
#include "monitor_fixture.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <iterator>
#include <string>

using namespace el3d;
using namespace el3d::test;

namespace {

std::string file_bytes(const std::string& path)
{
	std::ifstream f(path, std::ios::binary);
	return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct Case {
	const char* field;
	std::function<void(nlohmann::json&)> spoil;
};

}  // namespace

TEST_F(MonitorTest, AStateDocumentWithWrongTypesIsRefusedByFieldAndLeftUntouched)
{
	// A state with something in every part: a boot, keys, a platform token being fetched.
	ASSERT_EQ(x0(alloc(0x1000, 12, 1)), 1);
	const Case cases[] = {
	    {"mec_refreshes", [](nlohmann::json& d) { d["mec_refreshes"] = "ten"; }},
	    {"keys", [](nlohmann::json& d) { d["keys"]["realm"] = nlohmann::json::binary({1, 2, 3}); }},
	    {"keys", [](nlohmann::json& d) { d["keys"] = "not an object"; }},
	    {"boot", [](nlohmann::json& d) { d["boot"] = nlohmann::json::array({1, "two"}); }},
	};
	const std::string path = dir.file("c.img");
	for (const Case& c : cases) {
		monitor.reset();
		CarveoutOpenRequest r;
		r.path = path;
		{
			auto carveout = Carveout::open(r);
			nlohmann::json doc = carveout->state();
			c.spoil(doc);
			carveout->commit_state(doc);  // written with a valid checksum
		}
		const std::string before = file_bytes(path);
		try {
			Monitor m(Carveout::open(r), MonitorOptions{});
			ADD_FAILURE() << "opened a state document with a bad '" << c.field << "'";
		} catch (const CarveoutError& e) {
			EXPECT_EQ(e.refusal(), CarveoutRefusal::Corrupt);
			const std::string msg = e.what();
			EXPECT_NE(msg.find("corrupt metadata"), std::string::npos) << msg;
			EXPECT_NE(msg.find(std::string("field '") + c.field + "'"), std::string::npos) << msg;
		}
		EXPECT_TRUE(file_bytes(path) == before) << "the file changed after refusing a bad '" << c.field << "'";
		open({}, {}, true);  // --reset for the next case
		ASSERT_EQ(x0(alloc(0x1000, 12, 1)), 1);
	}
}
