# ActiveRecord 6.1 workload (Debian ruby-activerecord + ruby-pg): a blog.
#
#     ruby wl_rails.rb PORT DB setup
#     ruby wl_rails.rb PORT DB ENDPOINT nplus1|optimized
#
# Tables (prefix blog_): users 200, posts 400, comments ~2,400, tags 20, taggings ~1,000.
# Foreign keys are declared for posts.user_id and comments.post_id only (many Rails apps declare
# none: t.references without foreign_key: true).
#
# Endpoints (one line per thing shown; nplus1 and optimized print the same):
#   posts_index    Post.order(:id).limit(150): post.author (belongs_to), post.tags (has_many
#                  :through), post.comments.count, post.comments.order(:created_at).last.user
#   user_profiles  30 requests (user ids fixed in the code): User.find, user.posts.order(...)
#                  .limit(5) with post.comments.count each, user.comments.order(created_at:
#                  :desc).limit(5) with comment.post each, user.commented_posts.count
#   tag_pages      Tag.order(:name): tag.posts.order(published_at: :desc).limit(8) (has_many
#                  :through) with post.author and post.comments.last each
# Twins: includes/preload, grouped counts, one query per level.
#
# Prepared statements are on (ActiveRecord's default): every distinct SQL text becomes a named
# statement a1, a2, ... executed with Bind/Execute and text formats.
# The last line on stderr is `WLSTATS {"wall": s, "sent": n}` (n: sql.active_record events
# other than SCHEMA ones, and the SCHEMA ones counted separately as "schema").
require "active_record"
require "json"

PORT, DB, WHAT, VARIANT = ARGV
abort "usage: wl_rails.rb PORT DB setup | PORT DB ENDPOINT nplus1|optimized" unless PORT && DB && WHAT

ActiveRecord::Base.logger = nil
ActiveRecord::Base.table_name_prefix = "blog_"
ActiveRecord::Base.establish_connection(adapter: "postgresql", host: "127.0.0.1", port: PORT.to_i,
                                        database: DB, username: "postgres", connect_timeout: 10)
ActiveRecord::Migration.verbose = false
ActiveRecord.default_timezone = :utc if ActiveRecord.respond_to?(:default_timezone=)
ActiveRecord::Base.default_timezone = :utc if ActiveRecord::Base.respond_to?(:default_timezone=)

class User < ActiveRecord::Base
  has_many :posts
  has_many :comments
  has_many :commented_posts, -> { distinct }, through: :comments, source: :post
end

class Post < ActiveRecord::Base
  belongs_to :author, class_name: "User", foreign_key: "user_id"
  has_many :comments
  has_many :taggings
  has_many :tags, -> { order(:name) }, through: :taggings
end

class Comment < ActiveRecord::Base
  belongs_to :post
  belongs_to :user
end

class Tag < ActiveRecord::Base
  has_many :taggings
  has_many :posts, through: :taggings
end

class Tagging < ActiveRecord::Base
  belongs_to :post
  belongs_to :tag
end

REQUEST_USERS = (0...30).map { |k| 1 + (k * 67) % 200 }
BASE = Time.utc(2024, 1, 1)

def setup
  ActiveRecord::Schema.define do
    %w[blog_taggings blog_tags blog_comments blog_posts blog_users].each do |t|
      execute "DROP TABLE IF EXISTS #{t} CASCADE"
    end
    create_table :users do |t|
      t.string :name, null: false
      t.string :email, null: false
      t.datetime :created_at, null: false
    end
    create_table :posts do |t|
      t.references :user, null: false, foreign_key: true
      t.string :title, null: false
      t.text :body, null: false
      t.datetime :published_at, null: false
      t.datetime :created_at, null: false
    end
    create_table :comments do |t|
      t.references :post, null: false, foreign_key: true
      t.references :user, null: false
      t.text :body, null: false
      t.datetime :created_at, null: false
    end
    create_table :tags do |t|
      t.string :name, null: false
    end
    create_table :taggings do |t|
      t.references :post, null: false
      t.references :tag, null: false
    end
  end
  words = %w[alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november
             oscar papa quebec romeo sierra tango]
  User.insert_all((1..200).map { |i| { id: i, name: "User #{i} #{words[i % 20]}", email: "user#{i}@example.net", created_at: BASE + i * 3600 } })
  Post.insert_all((1..400).map { |i|
    { id: i, user_id: 1 + (i * 29) % 200, title: "Post #{i}: on #{words[(i * 7) % 20]}",
      body: "Body of post #{i}", published_at: BASE + (i * 7919 % 400) * 86_400 + i, created_at: BASE + i * 60 } })
  comments = []
  n = 0
  (1..400).each do |p|
    ((p * 5) % 12).times do |k|
      n += 1
      # created_at unique per comment, and not in id order (ties would make .last ambiguous)
      comments << { id: n, post_id: p, user_id: 1 + (p * 13 + k * 41) % 200, body: "comment #{k} on #{p}",
                    created_at: BASE + p * 86_400 + ((k * 7) % 12) * 3600 + k }
    end
  end
  Comment.insert_all(comments)
  Tag.insert_all((1..20).map { |i| { id: i, name: "#{words[(i * 3) % 20]}-#{i}" } })
  taggings = []
  n = 0
  (1..400).each do |p|
    tags = (0...(1 + p % 4)).map { |k| 1 + (p * 7 + k * 5) % 20 }.uniq
    tags.each { |t| taggings << { id: (n += 1), post_id: p, tag_id: t } }
  end
  Tagging.insert_all(taggings)
  %w[blog_users blog_posts blog_comments blog_tags blog_taggings].each do |t|
    ActiveRecord::Base.connection.execute("SELECT setval(pg_get_serial_sequence('#{t}', 'id'), (SELECT max(id) FROM #{t}))")
  end
  ActiveRecord::Base.connection.execute("ANALYZE")
  puts "loaded: users #{User.count}, posts #{Post.count}, comments #{Comment.count}, tags #{Tag.count}, taggings #{Tagging.count}"
end

def ts(t)
  t.utc.strftime("%Y-%m-%d %H:%M:%S")
end

def posts_index(opt, out)
  posts = Post.order(:id).limit(150)
  posts = posts.includes(:author, :tags, comments: :user) if opt
  posts.each do |post|
    if opt
      count = post.comments.size
      last = post.comments.max_by(&:created_at)
    else
      count = post.comments.count
      last = post.comments.order(:created_at).last
    end
    out << "#{post.id} #{post.title} by #{post.author.name} [#{post.tags.map(&:name).join(', ')}] " \
           "#{count} comments, last by #{last ? last.user.name : '-'}"
  end
end

def user_profiles(opt, out)
  REQUEST_USERS.each do |uid|
    user = User.find(uid)
    posts = user.posts.order(published_at: :desc, id: :desc).limit(5).to_a
    counts = opt ? Comment.where(post_id: posts.map(&:id)).group(:post_id).count : nil
    out << "user #{user.id} #{user.name} <#{user.email}> since #{ts(user.created_at)}"
    posts.each do |p|
      out << "  post #{p.id} #{p.title} #{ts(p.published_at)} (#{opt ? counts.fetch(p.id, 0) : p.comments.count} comments)"
    end
    recent = user.comments.order(created_at: :desc, id: :desc).limit(5)
    recent = recent.includes(:post) if opt
    recent.each { |c| out << "  said \"#{c.body}\" on #{c.post.title}" }
    out << "  commented on #{user.commented_posts.count} posts"
  end
end

def tag_pages(opt, out)
  Tag.order(:name).each do |tag|
    posts = tag.posts.order(published_at: :desc, id: :desc).limit(8)
    posts = posts.includes(:author) if opt
    posts = posts.to_a
    if opt
      last_ids = Comment.where(post_id: posts.map(&:id)).group(:post_id).maximum(:id)
      lasts = Comment.where(id: last_ids.values).index_by(&:post_id)
    end
    out << "tag #{tag.name}: #{posts.size} posts"
    posts.each do |p|
      last = opt ? lasts[p.id] : p.comments.last
      out << "  #{p.title} by #{p.author.name}, #{ts(p.published_at)}; last comment: #{last ? last.body : '-'}"
    end
  end
end

ENDPOINTS = { "posts_index" => :posts_index, "user_profiles" => :user_profiles, "tag_pages" => :tag_pages }.freeze

if WHAT == "setup"
  setup
  exit 0
end
abort "unknown endpoint or variant" unless ENDPOINTS[WHAT] && %w[nplus1 optimized].include?(VARIANT)

# Schema and type map loaded before the endpoint, as a running Rails process has them.
ActiveRecord::Base.connection.verify!
[User, Post, Comment, Tag, Tagging].each { |m| m.columns_hash; m.primary_key }
ActiveRecord::Base.connection.execute("SELECT pg_stat_statements_reset()") # count the endpoint only
sent = 0
schema = 0
ActiveSupport::Notifications.subscribe("sql.active_record") do |*, payload|
  payload[:name] == "SCHEMA" ? schema += 1 : sent += 1
end
out = []
t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
send(ENDPOINTS[WHAT], VARIANT == "optimized", out)
wall = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
ActiveRecord::Base.connection.disconnect!
puts out
$stderr.puts "WLSTATS #{JSON.generate(wall: wall.round(6), sent: sent, schema: schema)}"
