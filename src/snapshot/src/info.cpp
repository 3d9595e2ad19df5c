// info.json: what a snapshot is a copy of, in a small JSON document (docs/snapshots.md).
#include "el3d/snapshot/store.hpp"

namespace el3d::snapshot {

std::string check_name(const std::string& name)
{
	if (name.empty())
		return "a snapshot name is empty";
	if (name.size() > kMaxNameLength)
		return "a snapshot name is at most " + std::to_string(kMaxNameLength) + " characters";
	for (char ch : name) {
		const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		                ch == '_' || ch == '-';
		if (!ok)
			return "a snapshot name holds only letters, digits, '.', '_' and '-'";
	}
	if (name[0] == '.' || name[0] == '-')
		return "a snapshot name does not start with '.' or '-'";
	if (name.find(".tmp-") != std::string::npos)
		return "a snapshot name does not contain '.tmp-' (temporary names)";
	return "";
}

nlohmann::json to_json(const Info& i)
{
	return {{"format", kInfoFormat},
	        {"name", i.name},
	        {"created_unix_ns", i.created_unix_ns},
	        {"note", i.note},
	        {"source", {{"path", i.source_path}, {"uuid", i.source_uuid}}},
	        {"platform", i.platform},
	        {"epoch", i.epoch},
	        {"activation", i.activation},
	        {"regions", i.regions},
	        {"bytes_used", i.bytes_used},
	        {"disk_bytes", i.disk_bytes},
	        {"file_size", i.file_size},
	        {"el3d_version", i.el3d_version},
	        {"copy", i.copy_method}};
}

Info info_from_json(const nlohmann::json& j)
{
	Info i;
	i.name = j.at("name").get<std::string>();
	i.created_unix_ns = j.value("created_unix_ns", uint64_t{0});
	i.note = j.value("note", std::string());
	if (auto s = j.find("source"); s != j.end() && s->is_object()) {
		i.source_path = s->value("path", std::string());
		i.source_uuid = s->value("uuid", std::string());
	}
	i.platform = j.value("platform", std::string());
	i.epoch = j.value("epoch", uint64_t{0});
	i.activation = j.value("activation", uint64_t{0});
	i.regions = j.value("regions", uint64_t{0});
	i.bytes_used = j.value("bytes_used", uint64_t{0});
	i.disk_bytes = j.value("disk_bytes", uint64_t{0});
	i.file_size = j.value("file_size", uint64_t{0});
	i.el3d_version = j.value("el3d_version", std::string());
	i.copy_method = j.value("copy", std::string());
	return i;
}

}  // namespace el3d::snapshot
