# ActiveRecord 6.1 (Debian ruby-activerecord + ruby-pg) with marginalia-style comments: the
# Rails side of the attribution test (tests/integration/t_admin_attrib.sh).
#
#     ruby rails_marginalia.rb PORT DB setup
#     ruby rails_marginalia.rb PORT DB CONTROLLER ACTION     one "request": the N+1 loop
#
# Debian has neither marginalia nor Rails 7's query log tags (ActiveRecord 6.1 predates them),
# so the comment writer is re-created the way marginalia hooks in: a module prepended to the
# PostgreSQL adapter's execute and execute_and_clear appends
# " /*application:Blog,controller:C,action:A*/" to every statement. ActiveRecord's prepared
# statements are on (its default): each distinct text becomes a named statement run with
# Bind/Execute, so the loop below is an extended-protocol N+1 with a comment.
#
# The loop: Post.order(:id).each { |post| post.author.name } (belongs_to, 300 posts, 40
# authors). Prints each line, then "== CONTROLLER#ACTION: N lines, M queries sent" (M from
# sql.active_record events other than SCHEMA ones).
require "active_record"

PORT, DB, CONTROLLER, ACTION = ARGV
abort "usage: rails_marginalia.rb PORT DB setup | PORT DB CONTROLLER ACTION" unless PORT && DB && CONTROLLER

ActiveRecord::Base.logger = nil
ActiveRecord::Base.table_name_prefix = "attr_"
ActiveRecord::Migration.verbose = false
ActiveRecord::Base.establish_connection(adapter: "postgresql", host: "127.0.0.1", port: PORT.to_i,
                                        database: DB, username: "postgres", connect_timeout: 10,
                                        application_name: "blog-rails")

# What marginalia writes: components joined by ",", key:value each, appended after a space.
module MarginaliaLike
  mattr_accessor :comment

  def execute(sql, *args, **kw, &block)
    super(annotate(sql), *args, **kw, &block)
  end

  private

  def execute_and_clear(sql, *args, **kw, &block)
    super(annotate(sql), *args, **kw, &block)
  end

  def annotate(sql)
    MarginaliaLike.comment ? "#{sql} /*#{MarginaliaLike.comment}*/" : sql
  end
end
ActiveRecord::ConnectionAdapters::PostgreSQLAdapter.prepend(MarginaliaLike)

class Author < ActiveRecord::Base
  has_many :posts
end

class Post < ActiveRecord::Base
  belongs_to :author
end

def setup
  ActiveRecord::Schema.define do
    execute "DROP TABLE IF EXISTS attr_posts, attr_authors CASCADE"
    create_table :authors do |t|
      t.string :name, null: false
    end
    create_table :posts do |t|
      t.references :author, null: false, foreign_key: true
      t.string :title, null: false
    end
  end
  Author.insert_all((1..40).map { |i| { id: i, name: format("Author %02d", i) } })
  Post.insert_all((1..300).map { |i| { id: i, author_id: 1 + (i * 7) % 40, title: "Post #{i}" } })
  ActiveRecord::Base.connection.execute("ANALYZE attr_posts, attr_authors")
  puts "loaded: #{Author.count} authors, #{Post.count} posts"
end

if CONTROLLER == "setup"
  setup
  exit 0
end

sent = 0
ActiveSupport::Notifications.subscribe("sql.active_record") do |*, payload|
  sent += 1 unless payload[:name] == "SCHEMA"
end
MarginaliaLike.comment = "application:Blog,controller:#{CONTROLLER},action:#{ACTION}"
lines = Post.order(:id).map { |post| "#{post.title} by #{post.author.name}" }
puts lines
puts "== #{CONTROLLER}##{ACTION}: #{lines.size} lines, #{sent} queries sent"
