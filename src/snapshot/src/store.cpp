// The snapshot store: a directory of NAME/{carveout.img,info.json}, each built under a temporary
// name and renamed into place, so that a kill at any instant leaves a complete snapshot or none.
#include "el3d/snapshot/store.hpp"

#include "el3d/util/fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

namespace el3d::snapshot {

namespace {

constexpr const char* kImage = "carveout.img";
constexpr const char* kInfo = "info.json";
constexpr const char* kTmpMarker = ".tmp-";

// "<name>.tmp-" and six letters or digits: what save() builds in and remove() renames to.
bool is_leftover(const std::string& entry)
{
	const auto at = entry.rfind(kTmpMarker);
	if (at == std::string::npos || at == 0 || entry.size() != at + std::strlen(kTmpMarker) + 6)
		return false;
	return std::all_of(entry.begin() + static_cast<std::ptrdiff_t>(at + std::strlen(kTmpMarker)), entry.end(),
	                   [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; });
}

std::string random_suffix()
{
	static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	std::random_device rd;
	std::string s;
	for (int i = 0; i < 6; ++i)
		s += kChars[rd() % (sizeof(kChars) - 1)];
	return s;
}

// Delete a snapshot directory (or a leftover) of ours: its files, then itself. Never follows a link.
void remove_tree(const std::string& path)
{
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), ::closedir);
	if (d) {
		while (const dirent* e = ::readdir(d.get())) {
			const std::string n = e->d_name;
			if (n == "." || n == "..")
				continue;
			if (::unlink((path + "/" + n).c_str()) != 0 && errno != ENOENT)
				throw SystemError("cannot remove " + path + "/" + n, errno);
		}
	}
	if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
		throw SystemError("cannot remove " + path, errno);
}

void write_file_synced(const std::string& path, const std::string& text)
{
	UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!fd.valid())
		throw SystemError("cannot create " + path, errno);
	write_exact(fd.get(), text.data(), text.size(), 0, "write " + path);
	if (::fsync(fd.get()) != 0)
		throw SystemError("cannot sync " + path, errno);
}

bool is_dir(const std::string& path)
{
	struct stat st {};
	return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Info read_info(const std::string& dir, const std::string& name)
{
	const std::string p = dir + "/" + name + "/" + kInfo;
	std::ifstream in(p);
	if (!in)
		throw SnapshotError(Refusal::Corrupt, "snapshot '" + name + "': cannot read " + p);
	try {
		Info i = info_from_json(nlohmann::json::parse(in));
		i.name = name;  // the directory's name is the snapshot's
		return i;
	} catch (const std::exception& e) {
		throw SnapshotError(Refusal::Corrupt, "snapshot '" + name + "': " + p + " is malformed: " + e.what());
	}
}

}  // namespace

Store::Store(std::string dir) : dir_(std::move(dir)) {}

std::string Store::path_of(const std::string& name) const
{
	if (std::string why = check_name(name); !why.empty())
		throw SnapshotError(Refusal::BadName, "'" + name + "': " + why);
	return dir_ + "/" + name + "/" + kImage;
}

unsigned Store::clean_leftovers() const
{
	unsigned n = 0;
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir_.c_str()), ::closedir);
	if (!d)
		return 0;
	while (const dirent* e = ::readdir(d.get())) {
		const std::string entry = e->d_name;
		if (!is_leftover(entry) || !is_dir(dir_ + "/" + entry))
			continue;
		try {
			remove_tree(dir_ + "/" + entry);
			spdlog::info("snapshots: removed {}/{} (left by a save or removal that did not finish)", dir_, entry);
			++n;
		} catch (const SystemError& err) {
			spdlog::warn("snapshots: {}", err.what());
		}
	}
	return n;
}

Info Store::save(const std::string& name, const std::string& source, Info info, bool force)
{
	const std::string final_dir = dir_ + "/" + name;
	(void)path_of(name);  // checks the name
	try {
		make_dirs(dir_, 0700);
	} catch (const std::exception& e) {
		throw SnapshotError(Refusal::Io, std::string("snapshot directory: ") + e.what());
	}
	clean_leftovers();
	const bool exists = is_dir(final_dir);
	if (exists && !force)
		throw SnapshotError(Refusal::Exists, "snapshot '" + name + "' exists (force replaces it)");
	std::string tmp = final_dir + kTmpMarker + "XXXXXX";
	if (::mkdtemp(tmp.data()) == nullptr)
		throw SnapshotError(Refusal::Io, "cannot create " + tmp + ": " + std::strerror(errno));
	try {
		crash_point("save:tmpdir");
		UniqueFd src(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
		if (!src.valid())
			throw SystemError("cannot open " + source, errno);
		const std::string img = tmp + "/" + kImage;
		UniqueFd dst(::open(img.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
		if (!dst.valid())
			throw SystemError("cannot create " + img, errno);
		const CopyMethod how = clone_file(src.get(), dst.get(), source);
		if (::fsync(dst.get()) != 0)
			throw SystemError("cannot sync " + img, errno);
		crash_point("save:copied");
		struct stat st {};
		if (::fstat(dst.get(), &st) != 0)
			throw SystemError("cannot stat " + img, errno);
		info.name = name;
		info.created_unix_ns = static_cast<uint64_t>(
		    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
		info.file_size = static_cast<uint64_t>(st.st_size);
		info.disk_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
		info.copy_method = copy_method_name(how);
		write_file_synced(tmp + "/" + kInfo, to_json(info).dump(2) + "\n");
		sync_dir(tmp);
		crash_point("save:info");
		if (!exists) {
			if (::rename(tmp.c_str(), final_dir.c_str()) != 0)
				throw SystemError("cannot rename " + tmp + " to " + final_dir, errno);
		} else {
			// The old and the new snapshot change places in one step; the old one, now under the
			// temporary name, is removed below (or, after a kill, by the next use as a leftover).
			if (::syscall(SYS_renameat2, AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), 2 /* RENAME_EXCHANGE */) != 0)
				throw SystemError("cannot exchange " + tmp + " with " + final_dir, errno);
		}
		sync_dir(dir_);
		crash_point("save:renamed");
		if (exists)
			remove_tree(tmp);
	} catch (const SystemError& e) {
		if (is_dir(tmp))
			try {
				remove_tree(tmp);
			} catch (...) {
			}
		throw SnapshotError(Refusal::Io, "snapshot '" + name + "': " + e.what());
	}
	return info;
}

std::vector<Info> Store::list() const
{
	clean_leftovers();
	std::vector<Info> out;
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir_.c_str()), ::closedir);
	if (!d)
		return out;
	while (const dirent* e = ::readdir(d.get())) {
		const std::string entry = e->d_name;
		if (!check_name(entry).empty() || !is_dir(dir_ + "/" + entry))
			continue;
		try {
			out.push_back(read_info(dir_, entry));
		} catch (const SnapshotError& err) {
			spdlog::warn("snapshots: {}", err.what());
		}
	}
	std::sort(out.begin(), out.end(), [](const Info& a, const Info& b) { return a.name < b.name; });
	return out;
}

Info Store::get(const std::string& name) const
{
	const std::string img = path_of(name);
	if (!is_dir(dir_ + "/" + name))
		throw SnapshotError(Refusal::NotFound, "no snapshot '" + name + "' in " + dir_);
	Info i = read_info(dir_, name);
	struct stat st {};
	if (::lstat(img.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
		throw SnapshotError(Refusal::Corrupt, "snapshot '" + name + "': " + img + " is missing");
	return i;
}

void Store::remove(const std::string& name)
{
	(void)path_of(name);
	clean_leftovers();
	const std::string final_dir = dir_ + "/" + name;
	if (!is_dir(final_dir))
		throw SnapshotError(Refusal::NotFound, "no snapshot '" + name + "' in " + dir_);
	const std::string gone = final_dir + kTmpMarker + random_suffix();
	try {
		if (::rename(final_dir.c_str(), gone.c_str()) != 0)
			throw SystemError("cannot rename " + final_dir, errno);
		sync_dir(dir_);
		crash_point("remove:renamed");
		remove_tree(gone);
	} catch (const SystemError& e) {
		throw SnapshotError(Refusal::Io, "snapshot '" + name + "': " + e.what());
	}
}

}  // namespace el3d::snapshot
