#include "el3d/fastpath/mailbox.hpp"

#include "doorbell.hpp"
#include "layout.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace el3d::fastpath {

using detail::kClosed;
using detail::kPageSize;
using detail::kSeqMask;
using detail::Layout;

namespace {

template <class T>
T load(const T& v, std::memory_order o = std::memory_order_relaxed)
{
	return std::atomic_ref<const T>(v).load(o);
}
template <class T>
void store(T& v, T x, std::memory_order o = std::memory_order_relaxed)
{
	std::atomic_ref<T>(v).store(x, o);
}

Layout* map_page(int fd)
{
	void* p = ::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		throw SystemError("mmap of the fast-path mailbox", errno);
	return static_cast<Layout*>(p);
}

}  // namespace

ServerMailbox::ServerMailbox(uint32_t cpu, Tuning t) : t_(t)
{
	fd_.reset(::memfd_create("el3d-fastpath", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (!fd_.valid())
		throw SystemError("memfd_create", errno);
	if (::ftruncate(fd_.get(), kPageSize) != 0)
		throw SystemError("ftruncate of the fast-path mailbox", errno);
	// The client gets this fd: sealed, it cannot shrink the page under el3d's mapping (a SIGBUS).
	if (::fcntl(fd_.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		throw SystemError("sealing the fast-path mailbox", errno);
	l_ = map_page(fd_.get());
	l_->magic = detail::kMagic;
	l_->version = detail::kVersion;
	l_->size = kPageSize;
	l_->cpu = cpu;
	l_->client_cpu = l_->server_cpu = ~0u;
}

ServerMailbox::~ServerMailbox()
{
	if (l_ != nullptr)
		::munmap(l_, kPageSize);
}

ServerMailbox::Next ServerMailbox::next(Call& call, const Stop& stop, std::string& why)
{
	const auto v = detail::await_change(&l_->req, seq_, &l_->server_sleeping, &l_->client_cpu, t_, stop);
	if (!v)
		return Next::Stopped;
	if ((*v & kClosed) != 0)
		return Next::ClientLeft;
	const uint32_t want = (seq_ + 1) & kSeqMask;
	if (*v != want) {
		why = "fast path: request number " + std::to_string(*v) + " after " + std::to_string(seq_) +
		      " (expected " + std::to_string(want) + ")";
		return Next::Invalid;
	}
	seq_ = *v;
	// Copied out once: what the client writes there later does not change this call.
	call.fid = load(l_->fid);
	for (unsigned i = 0; i < call.x.size(); ++i)
		call.x[i] = load(l_->x[i]);
	return Next::Call;
}

void ServerMailbox::answer(const std::array<uint64_t, 8>& out)
{
	for (unsigned i = 0; i < out.size(); ++i)
		store(l_->out[i], out[i]);
	store(l_->server_cpu, detail::this_cpu());
	detail::ring(&l_->resp, seq_, &l_->client_sleeping);
}

void ServerMailbox::end()
{
	if (ended_)
		return;
	ended_ = true;
	detail::ring(&l_->resp, seq_ | kClosed, &l_->client_sleeping);
	detail::wake_all(&l_->resp);  // whatever the client's sleeping flag says
}

void ServerMailbox::wake() { detail::wake_all(&l_->req); }

bool ServerMailbox::client_left() const { return (load(l_->req) & kClosed) != 0; }

ClientMailbox::ClientMailbox(UniqueFd fd, uint32_t cpu, Tuning t) : fd_(std::move(fd)), t_(t)
{
	struct stat st {};
	if (::fstat(fd_.get(), &st) != 0)
		throw SystemError("fstat of the fast-path mailbox", errno);
	if (static_cast<uint64_t>(st.st_size) < kPageSize)
		throw std::runtime_error("the fast-path mailbox is " + std::to_string(st.st_size) + " bytes, not " +
		                         std::to_string(kPageSize));
	l_ = map_page(fd_.get());
	const uint32_t magic = load(l_->magic), version = load(l_->version), c = load(l_->cpu);
	if (magic != detail::kMagic || version != detail::kVersion || c != cpu) {
		::munmap(l_, kPageSize);
		l_ = nullptr;
		throw std::runtime_error("not a fast-path mailbox of version " + std::to_string(detail::kVersion) +
		                         " for cpu " + std::to_string(cpu));
	}
	seq_ = load(l_->req, std::memory_order_acquire) & kSeqMask;
}

ClientMailbox::~ClientMailbox()
{
	if (l_ != nullptr)
		::munmap(l_, kPageSize);
}

ClientMailbox::Outcome ClientMailbox::call(uint64_t fid, const uint64_t* x12, uint64_t* out8, const Stop& stop)
{
	const uint32_t before = load(l_->resp, std::memory_order_acquire);
	if ((before & kClosed) != 0 || left_)
		return Outcome::Ended;
	seq_ = (seq_ + 1) & kSeqMask;
	store(l_->fid, fid);
	for (unsigned i = 0; i < 12; ++i)
		store(l_->x[i], x12[i]);
	store(l_->client_cpu, detail::this_cpu());
	detail::ring(&l_->req, seq_, &l_->server_sleeping);
	for (uint32_t seen = before;;) {
		const auto v = detail::await_change(&l_->resp, seen, &l_->client_sleeping, &l_->server_cpu, t_, stop);
		if (!v)
			return Outcome::Stopped;
		if ((*v & kClosed) != 0)
			return Outcome::Ended;
		if (*v == seq_) {
			for (unsigned i = 0; i < 8; ++i)
				out8[i] = load(l_->out[i]);
			return Outcome::Answered;
		}
		seen = *v;  // not ours (el3d does not do this); keep waiting for ours
	}
}

void ClientMailbox::wake() { detail::wake_all(&l_->resp); }

void ClientMailbox::leave()
{
	if (left_.exchange(true))
		return;
	// The closed bit on the last request number: el3d serves nothing more, whatever it was doing.
	detail::ring(&l_->req, seq_ | kClosed, &l_->server_sleeping);
	detail::wake_all(&l_->req);
}

}  // namespace el3d::fastpath
