#include "el3d/nsmem/nsmem.hpp"

#include "el3d/util/fd.hpp"
#include "el3d/util/numbers.hpp"
#include "nsformat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace el3d {

namespace {

using nsformat::EpochRecord;
using nsformat::Header;

[[noreturn]] void refuse(NsRefusal why, const std::string& path, const std::string& msg)
{
	throw NsMemoryError(why, "NS memory file " + path + ": " + msg);
}

const char* const kLeftAlone =
    "; refusing to touch it (el3d --reset recreates it, and the carveout with it; --ns-memory chooses another file)";

std::string dirname_of(const std::string& path)
{
	const auto slash = path.rfind('/');
	return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string describe(const std::string& platform, const std::vector<NsWindow>& w)
{
	std::string s = platform + " [";
	for (std::size_t i = 0; i < w.size(); ++i)
		s += (i ? ", " : "") + hex(w[i].base) + "+" + hex(w[i].size) + "@" + hex(w[i].file_offset);
	return s + "]";
}

// The temporary name create() uses: "<file>.new." and six letters or digits (mkostemp).
bool is_temp_name(const std::string& entry, const std::string& file_name)
{
	const std::string prefix = file_name + ".new.";
	return entry.size() == prefix.size() + 6 && entry.compare(0, prefix.size(), prefix) == 0 &&
	       std::all_of(entry.begin() + static_cast<std::ptrdiff_t>(prefix.size()), entry.end(),
	                   [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; });
}

// Remove what a creator killed in the middle left: temporary files of ours next to `path` that
// nobody holds locked (a creator at work locks its temporary file). Called with the carveout's lock held.
void remove_stale_temp_files(const std::string& path)
{
	const std::string dir = dirname_of(path);
	const std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
	if (!d)
		return;
	while (const dirent* e = ::readdir(d.get())) {
		if (!is_temp_name(e->d_name, name))
			continue;
		const std::string tmp = dir + "/" + e->d_name;
		UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
		struct stat st {}, now {};
		if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
		    ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 || ::lstat(tmp.c_str(), &now) != 0 || !same_file(now, st))
			continue;
		if (::unlink(tmp.c_str()) == 0)
			spdlog::info("removed stale temporary file {} (left by a process killed while it created {})", tmp, path);
	}
}

// Build the file under a temporary name and link (replace: rename) it into place, so that a
// half-created file is never seen under its name. Sparse: only the header page is written.
// Returns the fd, or -1 if the file appeared meanwhile (not when replacing).
int create(const std::string& path, const Header& h, uint64_t epoch, bool replace)
{
	std::string tmpl = path + ".new.XXXXXX";
	try {
		make_dirs(dirname_of(path), 0700);
	} catch (const SystemError& e) {
		refuse(NsRefusal::Io, path, e.what());
	}
	UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
	if (!fd.valid())
		refuse(NsRefusal::Io, path, std::string("cannot create: ") + std::strerror(errno));
	struct Unlinker {
		std::string p;
		~Unlinker()
		{
			if (!p.empty())
				::unlink(p.c_str());
		}
	} cleanup{tmpl};
	try {
		if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
			throw SystemError("cannot lock " + tmpl, errno);
		::fchmod(fd.get(), 0600);
		if (::ftruncate(fd.get(), static_cast<off_t>(h.file_size)) != 0)
			throw SystemError("cannot size " + tmpl, errno);
		write_exact(fd.get(), &h, sizeof(h), 0, "write header of " + tmpl);
		const EpochRecord r = nsformat::make_epoch(epoch);
		write_exact(fd.get(), &r, sizeof(r), nsformat::kEpochOffset, "write header of " + tmpl);
		if (::fsync(fd.get()) != 0)
			throw SystemError("cannot sync " + tmpl, errno);
		if (replace) {
			if (::rename(tmpl.c_str(), path.c_str()) != 0)
				throw SystemError("cannot move " + tmpl + " into place", errno);
			cleanup.p.clear();
		} else if (::link(tmpl.c_str(), path.c_str()) != 0) {
			if (errno == EEXIST)
				return -1;
			throw SystemError("cannot link " + tmpl + " into place", errno);
		}
		::flock(fd.get(), LOCK_UN);  // the carveout's lock covers the file from now on
		UniqueFd dfd(::open(dirname_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (dfd.valid())
			::fsync(dfd.get());
	} catch (const SystemError& e) {
		refuse(NsRefusal::Io, path, e.what());
	}
	return fd.release();
}

NsRefusal classify(const std::string& why)
{
	if (why.rfind("not an el3d", 0) == 0)
		return NsRefusal::NotNsFile;
	if (why.rfind("unsupported", 0) == 0)
		return NsRefusal::UnsupportedVersion;
	if (why.rfind("truncated", 0) == 0 || why.rfind("wrong size", 0) == 0)
		return NsRefusal::Truncated;
	return NsRefusal::Corrupt;
}

// Validate an existing file with reads only. Returns its header and the epoch its content belongs to.
Header validate(int fd, const std::string& path, const Header& want, const Carveout& c, uint64_t& epoch)
{
	struct stat st {};
	if (::fstat(fd, &st) != 0)
		refuse(NsRefusal::Io, path, std::string("cannot stat: ") + std::strerror(errno));
	if (!S_ISREG(st.st_mode))
		refuse(NsRefusal::NotNsFile, path, std::string("not a regular file") + kLeftAlone);
	const auto size = static_cast<uint64_t>(st.st_size);
	if (size == 0)
		refuse(NsRefusal::NotNsFile, path, std::string("not an el3d Non-secure memory file (empty)") + kLeftAlone);
	Header h{};
	if (size < nsformat::kHeaderArea) {
		char magic[sizeof(nsformat::kMagic)] = {};
		read_exact(fd, magic, std::min<uint64_t>(size, sizeof(magic)), 0, "read " + path);
		if (std::memcmp(magic, nsformat::kMagic, sizeof(magic)) == 0)
			refuse(NsRefusal::Truncated, path, "truncated: only " + std::to_string(size) + " bytes" + kLeftAlone);
		refuse(NsRefusal::NotNsFile, path, std::string("not an el3d Non-secure memory file (bad magic)") + kLeftAlone);
	}
	read_exact(fd, &h, sizeof(h), 0, "read header of " + path);
	if (const std::string why = nsformat::check_header(h, size); !why.empty())
		refuse(classify(why), path, why + kLeftAlone);
	if (std::memcmp(h.carveout_id, want.carveout_id, sizeof(h.carveout_id)) != 0)
		refuse(NsRefusal::Foreign, path,
		       "belongs to another carveout file (id " + to_hex(h.carveout_id, sizeof(h.carveout_id)) + "), not to " +
		           c.path() + " (id " + c.uuid_string() + ")" + kLeftAlone);
	const std::vector<NsWindow> have = nsformat::windows_of(h), need = nsformat::windows_of(want);
	if (std::string(h.platform) != want.platform || have != need)
		refuse(NsRefusal::Layout, path,
		       "laid out differently: the file holds " + describe(h.platform, have) + ", this el3d needs " +
		           describe(want.platform, need) + kLeftAlone);
	EpochRecord r{};
	read_exact(fd, &r, sizeof(r), nsformat::kEpochOffset, "read header of " + path);
	if (!nsformat::epoch_valid(r))
		refuse(NsRefusal::Corrupt, path, std::string("corrupt header (epoch record)") + kLeftAlone);
	epoch = r.epoch;
	return h;
}

// Make [off, off + len) of the file read as zero without allocating it: punch it out, or (file
// systems without hole punching) overwrite only its data extents with zeros.
void zero_range(int fd, uint64_t off, uint64_t len, const std::string& path)
{
	if (len == 0)
		return;
	if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off), static_cast<off_t>(len)) == 0)
		return;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		throw SystemError("cannot zero " + path, errno);
	static const std::vector<char> zeros(1 << 20);
	const uint64_t end = off + len;
	for (uint64_t pos = off; pos < end;) {
		const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
		if (data < 0 || static_cast<uint64_t>(data) >= end)
			break;  // ENXIO: no data after pos
		off_t hole = ::lseek(fd, data, SEEK_HOLE);
		const uint64_t stop = std::min<uint64_t>(hole < 0 ? end : static_cast<uint64_t>(hole), end);
		for (pos = static_cast<uint64_t>(data); pos < stop;) {
			const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(zeros.size(), stop - pos));
			write_exact(fd, zeros.data(), n, pos, "zero " + path);
			pos += n;
		}
	}
}

}  // namespace

std::unique_ptr<NsMemory> NsMemory::open(const Carveout& c, const NsMemoryOpenRequest& req)
{
	std::unique_ptr<NsMemory> m(new NsMemory());
	m->path_ = req.path.empty() ? default_path(c.path()) : req.path;
	m->carveout_id_ = c.uuid_string();
	Header want{};
	try {
		want = nsformat::make_header(c.geometry(), c.uuid().data());
	} catch (const std::length_error& e) {
		refuse(NsRefusal::Layout, m->path_, e.what());
	}
	auto finish = [&](int fd, const Header& h, bool created) {
		m->fd_ = fd;
		m->created_ = created;
		std::memcpy(m->id_.data(), h.id, m->id_.size());
		m->windows_ = nsformat::windows_of(h);
		m->file_size_ = h.file_size;
		remove_stale_temp_files(m->path_);
		return std::move(m);
	};
	// The default file beside a carveout file that was just created belonged to the one before it.
	const bool replace = req.reset || (c.created() && m->path_ == default_path(c.path()));
	if (replace) {
		const int fd = create(m->path_, want, c.epoch(), true);
		spdlog::info("created NS memory file {} (id {}, {} windows, {} sparse)", m->path_, to_hex(want.id, 16),
		             want.window_count, human_size(want.file_size));
		return finish(fd, want, true);
	}
	for (int attempt = 0; attempt < 3; ++attempt) {
		UniqueFd fd(::open(m->path_.c_str(), O_RDWR | O_CLOEXEC));
		if (!fd.valid() && errno == ENOENT) {
			const int nfd = create(m->path_, want, c.epoch(), false);
			if (nfd < 0)
				continue;
			spdlog::info("created NS memory file {} (id {}, {} windows, {} sparse)", m->path_, to_hex(want.id, 16),
			             want.window_count, human_size(want.file_size));
			return finish(nfd, want, true);
		}
		if (!fd.valid() && errno == EISDIR)
			refuse(NsRefusal::NotNsFile, m->path_, std::string("not a regular file") + kLeftAlone);
		if (!fd.valid())
			refuse(NsRefusal::Io, m->path_, std::string("cannot open: ") + std::strerror(errno));
		uint64_t epoch = 0;
		Header h{};
		try {
			h = validate(fd.get(), m->path_, want, c, epoch);
		} catch (const SystemError& e) {
			refuse(NsRefusal::Io, m->path_, e.what());
		} catch (const std::runtime_error& e) {  // read_exact: unexpected end of file
			if (dynamic_cast<const NsMemoryError*>(&e) != nullptr)
				throw;
			refuse(NsRefusal::Io, m->path_, e.what());
		}
		auto ns = finish(fd.release(), h, false);
		if (epoch != c.epoch()) {
			// The carveout was reset (epoch now c.epoch()) and el3d stopped before this file was zeroed.
			spdlog::warn("NS memory file {} holds the content of carveout epoch {}, the carveout is at epoch {} (a reset "
			             "did not finish): zeroing it",
			             ns->path_, epoch, c.epoch());
			try {
				ns->reset(c.epoch());
			} catch (const SystemError& e) {
				refuse(NsRefusal::Io, ns->path_, e.what());
			}
		}
		return ns;
	}
	refuse(NsRefusal::Io, m->path_, "the file keeps appearing and disappearing");
}

NsMemory::~NsMemory()
{
	if (fd_ >= 0)
		::close(fd_);
}

std::string NsMemory::id_string() const { return to_hex(id_.data(), id_.size()); }

NsMemoryInfo NsMemory::info() const { return {path_, id_string(), carveout_id_, windows_}; }

void NsMemory::reset(uint64_t epoch)
{
	zero_range(fd_, nsformat::kHeaderArea, file_size_ - nsformat::kHeaderArea, path_);
	if (::fsync(fd_) != 0)
		throw SystemError("cannot sync " + path_, errno);
	const EpochRecord r = nsformat::make_epoch(epoch);
	write_exact(fd_, &r, sizeof(r), nsformat::kEpochOffset, "write header of " + path_);
	if (::fdatasync(fd_) != 0)
		throw SystemError("cannot sync " + path_, errno);
}

void NsMemory::set_epoch(uint64_t epoch)
{
	const EpochRecord r = nsformat::make_epoch(epoch);
	write_exact(fd_, &r, sizeof(r), nsformat::kEpochOffset, "write header of " + path_);
	if (::fdatasync(fd_) != 0)
		throw SystemError("cannot sync " + path_, errno);
}

const NsWindow* NsMemory::window_of(uint64_t pa, uint64_t len) const
{
	for (const NsWindow& w : windows_)
		if (len != 0 && pa >= w.base && pa < w.end() && len <= w.end() - pa)
			return &w;
	return nullptr;
}

bool NsMemory::read(uint64_t pa, uint64_t len, std::vector<uint8_t>& out) const
{
	const NsWindow* w = window_of(pa, len);
	if (w == nullptr)
		return false;
	out.resize(len);
	read_exact(fd_, out.data(), len, w->file_offset + (pa - w->base), "read " + path_);
	return true;
}

bool NsMemory::write(uint64_t pa, const uint8_t* data, uint64_t len)
{
	const NsWindow* w = window_of(pa, len);
	if (w == nullptr)
		return false;
	write_exact(fd_, data, len, w->file_offset + (pa - w->base), "write " + path_);
	return true;
}

}  // namespace el3d
